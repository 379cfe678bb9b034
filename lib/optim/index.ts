// Optimizers, like torch.optim.
export {
  Optimizer, OptimizerStateDict, ParamGroup, ParamGroupInput, ParamsInput, ParamState, StateKeys, StateValue,
} from './optimizer';
export { SGD, SGDOptions, SGDGroupOptions } from './sgd';
export { Adam, AdamBase, AdamOptions, AdamGroupOptions } from './adam';
export { AdamW, AdamWOptions } from './adamw';
