// How the app loads a swap candidate: the same factory that started the live classifier, with
// config.model.dir replaced, after the model file is checked against its manifest. The factory is passed
// in (createClassifier in the app) so this folder never imports the inference pool or ONNX Runtime.
import type { ClassifierFactory } from '../src/app.js';
import type { ResolvedConfig } from '../src/config.js';
import type { CandidateFactory } from './options.js';
import { verifyModelFile } from './verify-model-file.js';

/** Wraps `load` so a folder whose model file does not match its manifest is refused before loading. */
export function verifiedFactory(load: CandidateFactory): CandidateFactory {
  return async (dir) => {
    await verifyModelFile(dir);
    return load(dir);
  };
}

/** The app's candidate factory: `create` (createClassifier) on the running config, model folder replaced. */
export function candidateFactoryFromConfig(config: ResolvedConfig, create: ClassifierFactory): CandidateFactory {
  return verifiedFactory((dir) => create(Object.freeze({ ...config, model: Object.freeze({ ...config.model, dir }) })));
}
