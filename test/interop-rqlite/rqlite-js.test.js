// rqlite-js (npm, pinned by package-lock.json) against a dqlite cluster's
// rqlite API (docs/http-api.md, "Tests"). RQLITE_HOSTS lists the three
// nodes' HTTP addresses (comma-separated). One line per check ("ok NAME" or
// "FAIL NAME: why"); exit status 1 if any failed. Run by
// test/interop-rqlite/run.sh (make check-rqlite-js).
'use strict'
const assert = require('node:assert/strict')
const { BackupApiClient, DataApiClient, StatusApiClient } = require('rqlite-js')

const hosts = (process.env.RQLITE_HOSTS || '').split(',').filter(Boolean)
if (hosts.length === 0) {
  console.error('RQLITE_HOSTS is empty')
  process.exit(2)
}
let failures = 0
async function check (name, fn) {
  try {
    await fn()
    console.log(`ok   ${name}`)
  } catch (e) {
    failures++
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`)
  }
}

function noError (results) {
  assert.equal(results.hasError(), false, String(results.hasError() && results.getFirstError().message))
  return results
}

async function main () {
  const all = new DataApiClient(hosts)
  await check('create-table', async () => {
    noError(await all.execute('CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER, data BLOB)'))
  })
  await check('insert-last-insert-id', async () => {
    const r = noError(await all.execute("INSERT INTO foo(name, age) VALUES('fiona', 20)"))
    assert.equal(r.get(0).getLastInsertId(), 1)
    assert.equal(r.get(0).getRowsAffected(), 1)
  })
  await check('query-get', async () => {
    const r = noError(await all.query('SELECT id, name, age FROM foo WHERE id = 1'))
    assert.deepEqual(r.get(0).toObject(), { id: 1, name: 'fiona', age: 20 })
  })
  await check('parameterized-batch', async () => {
    const r = noError(await all.execute([
      ['INSERT INTO foo(name, age) VALUES(?, ?)', 'declan', 30],
      ['INSERT INTO foo(name, age) VALUES(:name, :age)', { name: 'aoife', age: 40 }]
    ]))
    assert.equal(r.get(0).getLastInsertId(), 2)
    assert.equal(r.get(1).getLastInsertId(), 3)
  })
  await check('update-rows-affected', async () => {
    const r = noError(await all.execute('UPDATE foo SET age = age + 1 WHERE age >= 30'))
    assert.equal(r.get(0).getRowsAffected(), 2)
  })
  await check('sql-error-in-results', async () => {
    const r = await all.execute('INSERT INTO nope VALUES(1)')
    assert.equal(r.hasError(), true)
    assert.match(String(r.getFirstError().message), /no such table: nope/)
  })
  await check('transaction-rolls-back', async () => {
    const r = await all.execute([
      "INSERT INTO foo(name) VALUES('x')",
      'INSERT INTO nope VALUES(1)'
    ], { transaction: true })
    assert.equal(r.hasError(), true)
    const c = noError(await all.query('SELECT COUNT(*) AS n FROM foo'))
    assert.equal(c.get(0).get('n'), 3)
  })
  for (const level of ['none', 'weak', 'strong']) {
    await check(`query-level-${level}`, async () => {
      const r = noError(await all.query('SELECT name FROM foo WHERE id = 2', { level }))
      assert.equal(r.get(0).get('name'), 'declan')
    })
  }
  await check('query-array-post', async () => {
    const r = noError(await all.query([
      ['SELECT name FROM foo WHERE age > ? ORDER BY id', 25]
    ]))
    assert.deepEqual(r.get(0).toArray(), ['declan'])
  })
  // Every node answers, followers through the leader.
  for (const [i, host] of hosts.entries()) {
    await check(`node-${i + 1}-write-and-read`, async () => {
      const one = new DataApiClient(host)
      const w = noError(await one.execute([[`INSERT INTO foo(name, age) VALUES(?, ?)`, `n${i}`, i]]))
      const id = w.get(0).getLastInsertId()
      const r = noError(await one.query(`SELECT name FROM foo WHERE id = ${id}`, { level: 'none' }))
      assert.equal(r.get(0).get('name'), `n${i}`)
    })
  }
  await check('values-null-blob-bigint', async () => {
    noError(await all.execute("INSERT INTO foo(id, name, age, data) VALUES(100, NULL, 9007199254740991, X'DEADBEEF')"))
    const r = noError(await all.query('SELECT name, age, data FROM foo WHERE id = 100'))
    const o = r.get(0).toObject()
    assert.equal(o.name, null)
    assert.equal(o.age, 9007199254740991)
    assert.equal(Buffer.from(o.data, 'base64').toString('hex'), 'deadbeef')
  })
  await check('raw-response', async () => {
    const { status, body } = await all.query('SELECT 1 AS one', { raw: true })
    assert.equal(status, 200)
    assert.deepEqual(body.results[0].values, [[1]])
  })
  await check('status', async () => {
    const status = new StatusApiClient(hosts)
    const res = await status.status()
    const body = res.body
    assert.equal(res.status, 200)
    assert.ok(body.store && body.store.leader, JSON.stringify(body))
  })
  await check('backup-drop-load-round-trip', async () => {
    const backup = new BackupApiClient(hosts)
    const before = noError(await all.query('SELECT COUNT(*) AS n, SUM(age) AS s FROM foo')).get(0).toObject()
    // Both calls answer the raw response stream.
    const slurp = (stream) => new Promise((resolve, reject) => {
      const chunks = []
      stream.on('data', (c) => chunks.push(Buffer.from(c)))
      stream.on('end', () => resolve(Buffer.concat(chunks).toString()))
      stream.on('error', reject)
    })
    const res = await backup.backup('sql')
    assert.equal(res.statusCode, 200)
    const dump = await slurp(res)
    assert.match(dump, /CREATE TABLE foo/)
    noError(await all.execute('DROP TABLE foo'))
    const loaded = await backup.load(dump)
    const answer = await slurp(loaded)
    assert.equal(loaded.statusCode, 200, answer)
    assert.doesNotMatch(answer, /error/)
    const after = noError(await all.query('SELECT COUNT(*) AS n, SUM(age) AS s FROM foo')).get(0).toObject()
    assert.deepEqual(after, before)
  })
  await check('backup-binary-sqlite-file', async () => {
    const res = await new BackupApiClient(hosts).backup()
    assert.equal(res.statusCode, 200)
    const chunks = []
    for await (const c of res) chunks.push(Buffer.from(c))
    const file = Buffer.concat(chunks)
    assert.equal(file.subarray(0, 16).toString('latin1'), 'SQLite format 3\0')
  })
  await check('backup-binary-drop-load-binary', async () => {
    const backup = new BackupApiClient(hosts)
    const before = noError(await all.query('SELECT COUNT(*) AS n, SUM(age) AS s FROM foo')).get(0).toObject()
    const res = await backup.backup()
    assert.equal(res.statusCode, 200)
    const chunks = []
    for await (const c of res) chunks.push(Buffer.from(c))
    const file = Buffer.concat(chunks)
    noError(await all.execute('DROP TABLE foo'))
    // 'dump': rqlite-js sends the file as application/octet-stream.
    const loaded = await backup.load(file, 'dump')
    const answer = []
    for await (const c of loaded) answer.push(Buffer.from(c))
    assert.equal(loaded.statusCode, 200, Buffer.concat(answer).toString())
    const after = noError(await all.query('SELECT COUNT(*) AS n, SUM(age) AS s FROM foo')).get(0).toObject()
    assert.deepEqual(after, before)
  })
  console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${failures} failure(s)`)
  process.exit(failures === 0 ? 0 : 1)
}
main().catch((e) => { console.log(`FAIL main: ${e.stack}`); process.exit(1) })
