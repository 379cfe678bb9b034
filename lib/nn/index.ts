import { clipGradNorm as clipGradNormFn, clipGradValue as clipGradValueFn } from './clip';
import { PackedSequence as PackedSequenceClass, packPaddedSequence as packPadded, padPackedSequence as padPacked } from './packing';
import * as sequenceUtils from './sequences';
export { Module, LoadStateDictOptions, LoadStateDictResult } from './module';
export { RNN, RNNOptions } from './rnn';
export { LSTM, LSTMOptions, LSTMState } from './lstm';
export { GRU, GRUOptions } from './gru';
export { RNNCell, RNNCellOptions } from './rnn-cell';
export { LSTMCell, LSTMCellOptions } from './lstm-cell';
export { GRUCell, GRUCellOptions } from './gru-cell';
export { PackedSequence, packPaddedSequence, padPackedSequence, PackOptions, PadOptions } from './packing';
export {
  padSequence, packSequence, unpadSequence, unpackSequence, PadSequenceOptions, PackSequenceOptions, UnpadSequenceOptions,
} from './sequences';
export { Linear, LinearOptions } from './linear';
export { Embedding, EmbeddingOptions } from './embedding';
export { Dropout } from './dropout';
export { Sequential } from './sequential';
export * as functional from './functional/index';
export { clipGradNorm, clipGradValue } from './clip';
/** `nn.utils`, laid out like torch.nn.utils (`nn.utils.rnn.padSequence` is `padSequence`). */
export const utils = {
  clipGradNorm: clipGradNormFn,
  clipGradValue: clipGradValueFn,
  rnn: {
    PackedSequence: PackedSequenceClass,
    packPaddedSequence: packPadded,
    padPackedSequence: padPacked,
    padSequence: sequenceUtils.padSequence,
    packSequence: sequenceUtils.packSequence,
    unpadSequence: sequenceUtils.unpadSequence,
    unpackSequence: sequenceUtils.unpackSequence,
  },
};
export { RecurrentSession, RecurrentModule, SessionState, session } from './session';
