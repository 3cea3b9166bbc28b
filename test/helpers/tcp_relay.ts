/**
 * A TCP relay in the test process between a server and PostgreSQL: `cut()` closes it and every
 * connection through it, as when the database becomes unreachable; `restore()` listens again on the
 * same port. The machine's PostgreSQL itself is never stopped.
 */

import { once } from 'node:events'
import net from 'node:net'

export class TcpRelay {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  port = 0

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** A relay to the PostgreSQL server of `url` (a `postgres://` URL). */
  static to(url: string): TcpRelay {
    const parsed = new URL(url)
    return new TcpRelay(parsed.hostname, Number(parsed.port || 5432))
  }

  /** Listens (on the port it had before, after a cut). */
  async start(): Promise<void> {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket)
      socket.on('error', () => {})
      const upstream = net.connect(this.upstreamPort, this.upstreamHost)
      this.sockets.add(upstream)
      upstream.on('error', () => socket.destroy())
      upstream.on('close', () => {
        this.sockets.delete(upstream)
        socket.destroy()
      })
      socket.on('close', () => {
        this.sockets.delete(socket)
        upstream.destroy()
      })
      socket.pipe(upstream)
      upstream.pipe(socket)
    })
    this.server.listen(this.port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as net.AddressInfo).port
  }

  /** `url` with its host and port replaced by the relay's. */
  url(url: string): string {
    const parsed = new URL(url)
    parsed.host = `127.0.0.1:${this.port}`
    return parsed.href
  }

  /** Stops listening and destroys every connection through the relay. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    const server = this.server
    this.server = undefined
    if (server) await new Promise((resolve) => server.close(resolve))
  }

  restore(): Promise<void> {
    return this.start()
  }
}
