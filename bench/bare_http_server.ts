/**
 * The HTTP floor: a bare `node:http` server that reads the request body and answers a small JSON, run
 * as its own process by `run.ts` and loaded exactly like the real endpoints. Nothing an endpoint does
 * can be cheaper than this. Usage: `node dist/bench/bare_http_server.js PORT`.
 */
import { createServer } from 'node:http'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: bare_http_server.js PORT\n')
  process.exit(2)
}

const body = Buffer.from(JSON.stringify({ active: true, client_id: 'bench', token_type: 'Bearer' }))
const headers = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(body.length),
  'cache-control': 'no-store',
}

const server = createServer((request, response) => {
  request.on('data', () => {})
  request.on('end', () => {
    response.writeHead(200, headers)
    response.end(body)
  })
})
server.listen(port, '127.0.0.1')

const stop = (): void => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
