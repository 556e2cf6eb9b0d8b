// ESM entry point of keyscope/express: the helpers of express.js, re-exported by name.
export * from './express.js'
export { default } from './express.js'
