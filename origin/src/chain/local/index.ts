export { openLocalChain, prepareLocalLedger, type LocalChain, type LocalChainOptions } from './local-chain.ts';
