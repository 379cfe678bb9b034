export { Module, LoadStateDictOptions, LoadStateDictResult } from './module';
export { RNN, RNNOptions } from './rnn';
export { LSTM, LSTMOptions, LSTMState } from './lstm';
export { GRU, GRUOptions } from './gru';
export { RNNCell, RNNCellOptions } from './rnn-cell';
export { LSTMCell, LSTMCellOptions } from './lstm-cell';
export { GRUCell, GRUCellOptions } from './gru-cell';
export { PackedSequence, packPaddedSequence, padPackedSequence, PackOptions, PadOptions } from './packing';
