// Types of the ESM entry point (index.mjs): those of the CommonJS one (index.d.ts).
export * from './index.js'
declare const keyscope: typeof import('./index.js')
export default keyscope
