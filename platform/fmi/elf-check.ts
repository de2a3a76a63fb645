/**
 * A sanity check of an ELF shared library before dlopen. The dynamic loader maps the file's segments
 * and trusts their headers: a truncated library (a segment reaching past the end of the file) kills the
 * process with SIGBUS inside dlopen, before any error could be returned. So the headers are read here
 * first: the ELF magic, the class, byte order and machine of this process, a shared object (ET_DYN),
 * the program header table and every segment's file range inside the file. Pure: bytes in, a problem
 * (text) or undefined out.
 *
 * What it does not do: vet the code or the dynamic section's contents. A library whose headers are sound
 * but whose contents are corrupt or hostile is native code like any other; the trust rule decides
 * whether to run it at all.
 */

/** ELF e_machine of the Node architectures FMI 2.0 has binaries folders for. */
const MACHINES: Record<string, { machine: number; bits: 32 | 64 }> = {
  x64: { machine: 62, bits: 64 }, // EM_X86_64
  ia32: { machine: 3, bits: 32 }, // EM_386
  arm64: { machine: 183, bits: 64 }, // EM_AARCH64
};
const ET_DYN = 3;

/**
 * Why a file is not a loadable ELF shared library for `arch`, or undefined when its headers are sound.
 * `head` is the file's first bytes (all of it, or enough to hold the program header table), `size` the
 * file's size.
 */
export function elfProblem(
  head: Uint8Array,
  size: number = head.byteLength,
  arch: string = process.arch,
): string | undefined {
  const bytes = head;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 16 && size >= 16) return 'the header was not read';
  if (size < 16 || view.getUint32(0) !== 0x7f454c46) return 'it is not an ELF file (no \\x7fELF magic)';
  const expected = MACHINES[arch];
  if (!expected) return `no ELF machine is known for the architecture ${arch}`;
  const bits = bytes[4] === 2 ? 64 : bytes[4] === 1 ? 32 : undefined;
  if (bits !== expected.bits)
    return `it is a ${bits ?? '?'}-bit ELF file; this process is ${expected.bits}-bit`;
  if (bytes[5] !== 1) return 'it is a big-endian ELF file; this machine is little-endian';
  const header = bits === 64 ? 64 : 52;
  if (size < header || bytes.byteLength < header)
    return `it is cut short (${size} bytes, less than an ELF header)`;
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (machine !== expected.machine)
    return `it is built for ELF machine ${machine}, not this ${arch} machine (${expected.machine})`;
  if (type !== ET_DYN) return `it is not a shared library (ELF type ${type}, not ET_DYN)`;
  return segmentProblem(view, bits, size);
}

/** Bytes of a library read for the check (its program headers sit near the start). */
export const ELF_HEAD_BYTES = 64 * 1024;

/** The program header table and each segment's file range lie inside the file. */
function segmentProblem(view: DataView, bits: 32 | 64, size: number): string | undefined {
  const b64 = bits === 64;
  const phoff = b64 ? Number(view.getBigUint64(32, true)) : view.getUint32(28, true);
  const phentsize = view.getUint16(b64 ? 54 : 42, true);
  const phnum = view.getUint16(b64 ? 56 : 44, true);
  const minEntry = b64 ? 56 : 32;
  if (phnum === 0) return 'it has no program headers (nothing to load)';
  if (phentsize < minEntry) return `its program header entries are ${phentsize} bytes (at least ${minEntry})`;
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > size) return `it is cut short: its program headers end past the file (${size} bytes)`;
  if (tableEnd > view.byteLength) return `its program headers lie beyond the first ${view.byteLength} bytes`;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const offset = b64 ? Number(view.getBigUint64(at + 8, true)) : view.getUint32(at + 4, true);
    const fileSize = b64 ? Number(view.getBigUint64(at + 32, true)) : view.getUint32(at + 16, true);
    if (fileSize > 0 && offset + fileSize > size) {
      return `it is cut short: segment ${i} spans bytes ${offset}–${offset + fileSize} of a ${size}-byte file`;
    }
  }
  return undefined;
}
