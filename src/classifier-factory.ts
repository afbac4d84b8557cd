// The classifier `klassify start` uses: the inference pool over the configured compiled model.
import { InferencePool, poolOptionsFromConfig } from '../inference-pool/index.js';
import type { ClassifierFactory } from './app.js';

export const createClassifier: ClassifierFactory = (config, tuning = {}) => InferencePool.start({ ...poolOptionsFromConfig(config), ...tuning });
