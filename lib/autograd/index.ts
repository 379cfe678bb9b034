export { backward } from './engine';
export { noGrad, isGradEnabled, setGradEnabled } from './grad-mode';
