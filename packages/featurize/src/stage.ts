import type { Argv } from 'yargs';
import { ENGINE_NAMES, type Stage } from '@captioner/core';
import type { CommonArgs } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { onnxRuntimeAvailable } from './engines/index.js';
import { runFeaturize } from './featurize.js';

interface FeaturizeArgs extends CommonArgs {
  weights?: string;
  engine?: string;
}

export const stage: Stage<FeaturizeArgs> = {
  name: 'featurize',
  describe: 'CNN feature grid per image (InceptionV3 or MobileNetV2, featurize.backbone) → sharded Arrow',
  options: (y) =>
    y
      .option('weights', {
        type: 'string',
        describe: 'inception_v3: TF.js layers model folder of a Keras InceptionV3; mobilenet_v2: a .tflite file (shortcut for --featurize.weights; default: the bundled weights)',
      })
      .option('engine', {
        type: 'string',
        choices: ENGINE_NAMES,
        describe: 'inference engine (shortcut for --featurize.engine)',
      }) as Argv<FeaturizeArgs>,
  // The shortcuts are folded into the dotted-override object that the config loader validates.
  configArgs: (argv) => {
    const section = { ...((argv.featurize as Record<string, unknown> | undefined) ?? {}) };
    if (argv.weights !== undefined) section.weights = argv.weights;
    if (argv.engine !== undefined) section.engine = argv.engine;
    return { ...argv, featurize: section };
  },
  run: async (ctx) => {
    const { engine } = ctx.config.featurize;
    // The TF.js engine runs on the backend chosen by --backend / config; onnx needs no TF.js backend.
    if (engine === 'tfjs' || (engine === 'auto' && !(await onnxRuntimeAvailable()))) {
      await initBackend({ backend: ctx.config.backend });
    }
    await runFeaturize({ ingestDir: ctx.dir('ingest'), outDir: ctx.dir('featurize'), root: ctx.root, config: ctx.config.featurize });
  },
};
