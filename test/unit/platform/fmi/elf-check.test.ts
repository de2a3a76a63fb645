import fc from 'fast-check';
import { elfProblem } from '../../../../platform/fmi/elf-check';

interface Segment {
  offset: number;
  fileSize: number;
}

/** A 64-bit little-endian ELF shared object (x86-64) with these segments, `size` bytes long. */
function elf64(
  segments: Segment[],
  size = 4096,
  change: (view: DataView, bytes: Uint8Array) => void = () => {},
) {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x7f454c46); // \x7fELF
  bytes[4] = 2; // ELFCLASS64
  bytes[5] = 1; // little-endian
  bytes[6] = 1; // EV_CURRENT
  view.setUint16(16, 3, true); // ET_DYN
  view.setUint16(18, 62, true); // EM_X86_64
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, segments.length, true); // e_phnum
  segments.forEach((s, i) => {
    const at = 64 + i * 56;
    view.setUint32(at, 1, true); // PT_LOAD
    view.setBigUint64(at + 8, BigInt(s.offset), true);
    view.setBigUint64(at + 32, BigInt(s.fileSize), true);
  });
  change(view, bytes);
  return bytes;
}

const SEGMENTS = [
  { offset: 0, fileSize: 1000 },
  { offset: 2048, fileSize: 1500 },
];

describe('elfProblem', () => {
  it('passes a sound shared object', () => {
    expect(elfProblem(elf64(SEGMENTS), 4096, 'x64')).toBeUndefined();
  });

  it('passes a file whose tail past the last segment is missing (the loader never reads it)', () => {
    expect(elfProblem(elf64(SEGMENTS, 3548), 3548, 'x64')).toBeUndefined();
  });

  it.each([
    ['text', () => new TextEncoder().encode('this is not a library at all'), 'not an ELF file'],
    ['nothing', () => new Uint8Array(0), 'not an ELF file'],
    [
      'a 32-bit library',
      () => elf64(SEGMENTS, 4096, (_v, b) => (b[4] = 1)),
      '32-bit ELF file; this process is 64-bit',
    ],
    ['a big-endian library', () => elf64(SEGMENTS, 4096, (_v, b) => (b[5] = 2)), 'big-endian'],
    ['an AArch64 library', () => elf64(SEGMENTS, 4096, (v) => v.setUint16(18, 183, true)), 'ELF machine 183'],
    [
      'an executable',
      () => elf64(SEGMENTS, 4096, (v) => v.setUint16(16, 2, true)),
      'not a shared library (ELF type 2',
    ],
    ['a header cut short', () => elf64(SEGMENTS).subarray(0, 40), 'less than an ELF header'],
    ['no program headers', () => elf64([]), 'no program headers'],
    [
      'small program header entries',
      () => elf64(SEGMENTS, 4096, (v) => v.setUint16(54, 8, true)),
      'at least 56',
    ],
    [
      'program headers past the end',
      () => elf64(SEGMENTS, 4096, (v) => v.setBigUint64(32, 4090n, true)),
      'program headers end past',
    ],
    [
      'a segment past the end',
      () => elf64(SEGMENTS, 3000),
      'segment 1 spans bytes 2048–3548 of a 3000-byte file',
    ],
  ])('refuses %s', (_what, bytes, problem) => {
    const b = bytes();
    expect(elfProblem(b, b.length, 'x64')).toContain(problem);
  });

  it('refuses a segment past the end when only the head of the file was read', () => {
    const head = elf64(SEGMENTS).subarray(0, 512);
    expect(elfProblem(head, 3000, 'x64')).toContain('segment 1');
    expect(elfProblem(head, 4096, 'x64')).toBeUndefined();
  });

  it('knows no machine for an architecture FMI 2.0 has no folder for', () => {
    expect(elfProblem(elf64(SEGMENTS), 4096, 'riscv64')).toContain('no ELF machine is known');
  });

  it('refuses every cut that ends inside a segment, and never throws (property)', () => {
    const whole = elf64(SEGMENTS);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3547 }), (cut) => {
        expect(elfProblem(whole.subarray(0, cut), cut, 'x64')).toBeDefined();
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(100_000), (bytes, size) => {
        const problem = elfProblem(bytes, Math.max(size, bytes.length), 'x64');
        expect(problem === undefined || typeof problem === 'string').toBe(true);
      }),
    );
  });
});
