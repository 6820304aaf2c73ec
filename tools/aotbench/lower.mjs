// lower.mjs IN.wasm OUT.wasm: binaryen's memory64-lowering (every address
// wrapped to 32 bits, the memory made a memory32), for wabt 1.0.32's wasm2c,
// which has no memory64. Only for scripts/aotbench.sh's measurement: an
// address at or above 4 GiB wraps where the original module traps.
import binaryen from 'binaryen'
import fs from 'fs'

const [, , input, output] = process.argv
const m = binaryen.readBinary(fs.readFileSync(input))
const F = binaryen.Features
const base = F.MVP | F.MutableGlobals | F.BulkMemory | F.SignExt | F.NontrappingFPToInt | F.Multivalue | F.ReferenceTypes
m.setFeatures(base | F.Memory64)
m.runPasses(['memory64-lowering'])
m.setFeatures(base)
if (!m.validate()) {
  console.error('lower.mjs: the lowered module does not validate')
  process.exit(1)
}
fs.writeFileSync(output, m.emitBinary())
