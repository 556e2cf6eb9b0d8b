// ESM entry point of keyscope: the same native binding as the CommonJS entry point
// (index.js), re-exported by name (Node reads the names index.js assigns).
export * from './index.js'
export { default } from './index.js'
