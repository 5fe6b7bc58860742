export { openLocalChain, type LocalChain, type LocalChainOptions } from './local-chain.ts';
