/**
 * Generates the logs of the big store's runs in a thread of its own, so that the second core makes
 * logs while the first ingests them. The main thread hands out credit; each credit buys one log.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { generateLog } from '../server/demo/log-generator.ts'
import { runPlan, type StoreShape } from './store-shape.ts'
import { storeRunSpec } from './workloads.ts'

const { shape, from } = workerData as { shape: StoreShape, from: number }
let next = from
let credit = 0

function produce (): void {
  while (credit > 0 && next < shape.runs) {
    credit--
    const plan = runPlan(shape, next)
    const bytes = Buffer.from(generateLog(storeRunSpec({ seed: plan.seed, tests: shape.tests, subtests: shape.subtests, arch: plan.arch })))
    // a Buffer of this size has an ArrayBuffer of its own, so it can be handed over whole
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
    parentPort!.postMessage({ run: next, log: buffer }, [buffer])
    next++
  }
}

parentPort!.on('message', (message: { credit: number }) => {
  credit += message.credit
  produce()
})
