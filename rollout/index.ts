// Model rollout (issue #16): hot swap of the live model behind a parity gate.
export { SwappableClassifier } from './swappable.js';
export { resolveSwapOptions, type CandidateFactory, type ResolvedSwapOptions, type SwapOptions } from './options.js';
export type { SampleFigures, SwapAccepted, SwapEventMap, SwapRefused, SwapResult, SwapStage, SwapTimings } from './events.js';
export { compareOutcomes, judge, sameLabels, type AgreementFigures, type ClassAgreement, type GateThresholds, type GateVerdict } from './parity.js';
export { candidateFactoryFromConfig, verifiedFactory } from './candidate-factory.js';
export { verifyModelFile } from './verify-model-file.js';
export { RecentAnswers, type Answered } from './recent-answers.js';
export { ShadowRunner, type ShadowCounts, type ShadowEventMap, type ShadowOptions, type ShadowPost, type ShedReason } from './shadow.js';
export { ShadowWindow, type ShadowReport, type SideFigures } from './shadow-window.js';
