/**
 * Other spellings of one JWT: strings that decode to the same header, payload and signature bytes
 * (unused bits set in a segment's last base64url character), and the ECDSA twin of an ES256 signature
 * (`s` replaced by `n − s`, which verifies too). Written independently of the verifier package's
 * `jwt.ts`, so the tests do not borrow the code they check.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The order of the P-256 group. */
export const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

const toHex32 = (n: bigint): string => n.toString(16).padStart(64, '0')

/** How many low bits of the last character of an unpadded base64url segment carry no data. */
export function unusedBits(segment: string): number {
  return [0, 0, 4, 2][segment.length % 4]!
}

/** `segment` with the lowest unused bit of its last character set; `undefined` when it has none. */
export function withUnusedBitSet(segment: string): string | undefined {
  if (unusedBits(segment) === 0) return undefined
  const last = ALPHABET.indexOf(segment.at(-1)!)
  return segment.slice(0, -1) + ALPHABET[last ^ 1]!
}

/**
 * Every one-bit other spelling of `token`, by the segment changed (`header`, `payload`, `signature`).
 * Each decodes to exactly the bytes of the original.
 */
export function otherSpellings(token: string): Record<string, string> {
  const parts = token.split('.')
  const out: Record<string, string> = {}
  ;['header', 'payload', 'signature'].forEach((name, i) => {
    const changed = withUnusedBitSet(parts[i]!)
    if (changed === undefined) return
    const copy = [...parts]
    copy[i] = changed
    const spelled = copy.join('.')
    if (Buffer.from(changed, 'base64url').equals(Buffer.from(parts[i]!, 'base64url'))) {
      out[name] = spelled
    }
  })
  return out
}

/** The `s` of an ES256 signature `r || s`, as a number. */
export function sOf(signature: Buffer): bigint {
  return BigInt(`0x${signature.subarray(32, 64).toString('hex')}`)
}

/** Whether an ES256 signature has a low `s` (at most n/2). */
export function isLowS(signature: Buffer): boolean {
  return sOf(signature) <= P256_N >> 1n
}

/** The ES256 signature with `s` replaced by `n − s`: valid whenever the original is. */
export function ecdsaTwin(signature: Buffer): Buffer {
  return Buffer.concat([
    signature.subarray(0, 32),
    Buffer.from(toHex32(P256_N - sOf(signature)), 'hex'),
  ])
}

/** The low-S form of an ES256 signature (the one the server issues and accepts). */
export function toLowS(signature: Buffer): Buffer {
  return isLowS(signature) ? signature : ecdsaTwin(signature)
}

/** `token` with its ES256 signature replaced by the twin. */
export function withTwinSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  return `${h}.${p}.${ecdsaTwin(Buffer.from(s, 'base64url')).toString('base64url')}`
}
