// HTTP mode of the benchmarks (docs/http-api.md, "Benchmarks"): the
// workloads of dqlite-bench that matter for the rqlite API, driven over
// HTTP/1.1 keep-alive against RQLITE_HOSTS (the first is used), printed in
// dqlite-bench's text shape: workload, ops/s, rows/s, p50 and p99 latency.
//   insert:C    one INSERT of a 100-byte random blob per POST /db/execute
//   read:C      POST /db/query of one row by a random primary key (a
//               parameter, as dqlite-bench's prepared statement)
//   batch1000   one POST /db/execute of 1000 INSERTs with ?transaction
// C: concurrent clients (each with its own keep-alive connection).
// BENCH_SECONDS per workload (default 5). Figures only; nothing asserted.
'use strict'
const http = require('node:http')
const crypto = require('node:crypto')

const host = (process.env.RQLITE_HOSTS || '').split(',')[0]
const seconds = Number(process.env.BENCH_SECONDS || 5)
const db = process.env.BENCH_DB || 'benchhttp'
const readRows = 10000
if (!host) { console.error('RQLITE_HOSTS is empty'); process.exit(2) }
const base = new URL(host)

function request (agent, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = http.request({
      host: base.hostname, port: base.port, method, path, agent,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        if (res.statusCode !== 200 || text.includes('"error"')) {
          reject(new Error(`${res.statusCode} ${text.slice(0, 200)}`))
        } else {
          resolve(text)
        }
      })
    })
    req.on('error', reject)
    if (data) req.write(data)
    req.end()
  })
}

const blob = () => [...crypto.randomBytes(100)]

async function run (name, clients, rowsPerOp, op) {
  const lat = []
  const end = Date.now() + seconds * 1000
  let ops = 0
  const t0 = process.hrtime.bigint()
  await Promise.all([...Array(clients)].map(async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    while (Date.now() < end) {
      const s = process.hrtime.bigint()
      await op(agent)
      lat.push(Number(process.hrtime.bigint() - s) / 1e3)
      ops++
    }
    agent.destroy()
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  lat.sort((a, b) => a - b)
  const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(0)
  console.log(`http ${name.padEnd(12)} ${(ops / secs).toFixed(0).padStart(8)} ops/s ` +
    `${(ops * rowsPerOp / secs).toFixed(0).padStart(9)} rows/s  p50 ${p(0.5).padStart(6)} us  p99 ${p(0.99).padStart(6)} us`)
}

async function main () {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const q = `db=${db}`
  await request(agent, 'POST', `/db/execute?${q}`, [
    'CREATE TABLE IF NOT EXISTS w (id INTEGER PRIMARY KEY, v BLOB)',
    'CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, v BLOB)'])
  for (let i = 0; i < readRows; i += 1000) {
    const stmts = []
    for (let k = i; k < i + 1000; k++) stmts.push(['INSERT OR REPLACE INTO r VALUES(?, ?)', k + 1, blob()])
    await request(agent, 'POST', `/db/execute?${q}&transaction`, stmts)
  }
  agent.destroy()
  const insert = (a) => request(a, 'POST', `/db/execute?${q}`, [['INSERT INTO w(v) VALUES(?)', blob()]])
  // Parameterized, as dqlite-bench's read (a prepared statement).
  const read = (a) => request(a, 'POST', `/db/query?${q}`,
    [['SELECT v FROM r WHERE id = ?', 1 + Math.floor(Math.random() * readRows)]])
  const batch = (a) => {
    const stmts = []
    for (let k = 0; k < 1000; k++) stmts.push(['INSERT INTO w(v) VALUES(?)', blob()])
    return request(a, 'POST', `/db/execute?${q}&transaction`, stmts)
  }
  const only = process.env.BENCH_ONLY // one workload: insert, read, batch1000
  for (const c of (process.env.BENCH_CLIENTS || '1,8').split(',').map(Number)) {
    if (!only || only === 'insert') await run(`insert:${c}`, c, 1, insert)
    if (!only || only === 'read') await run(`read:${c}`, c, 1, read)
  }
  if (!only || only === 'batch1000') await run('batch1000', 1, 1000, batch)
}
main().catch((e) => { console.error(e.stack); process.exit(1) })
