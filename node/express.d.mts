// Types of the ESM entry point of keyscope/express (express.mjs).
export * from './express.js'
declare const express: typeof import('./express.js')
export default express
