// The compile step's public surface (the CLI and tests import from here).
export { compileModel, REPORT_FILE, type CompileDeps, type CompileResult } from './compile.js';
export { resolveCompileOptions, parseLabels, type CompileOptions, type ResolvedCompileOptions } from './options.js';
export { progressFor, lineProgress, barProgress, silentProgress, type CompileProgress } from './progress.js';
export { quantizeDynamicInt8, quantizePerColumn, type QuantizeInt8Options, type QuantizeInt8Report } from './quantize-int8.js';
export { quantizeGatherTables, quantizePerRow, type GatherTableOptions, type GatherTablesReport, type QuantizedTable } from './quantize-embedding.js';
export { convertToFp16, float16Bits, float16Value, DEFAULT_FP32_OPS, type Fp16Report } from './fp16.js';
export { DEFAULT_GATE, measureParity, enforceParity, type Parity, type ParityGate } from './parity.js';
export { loadEvalSet, builtinEvalSet, type EvalSet } from './eval-set.js';
export { evalReport, renderEvalReport, parseConfusion, type EvalReport, type ClassFigures, type BinaryFigures } from './eval-report.js';
