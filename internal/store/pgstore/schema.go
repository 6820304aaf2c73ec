package pgstore

// schema is the reference CU's PostgreSQL schema (servers/cu/src/effects/
// pg.js, createProcesses … createCheckpointFilesIndexes), statement for
// statement and in the same order, so that a database created by either CU
// is the other's: quoted camelCase columns, BIGINT numbers, TEXT for the JSON
// columns. The reference's quirk is kept: the index named
// idx_checkpoint_files_processId_timestamp is created ON checkpoints.
// (Unquoted, PostgreSQL folds the index names to lower case, as it does for
// the reference.)
var schema = []string{
	`CREATE TABLE IF NOT EXISTS processes(
    id TEXT PRIMARY KEY,
    signature TEXT,
    data TEXT,
    anchor TEXT,
    owner TEXT,
    tags TEXT,
    block TEXT
  );`,
	`CREATE TABLE IF NOT EXISTS blocks(
    id BIGINT PRIMARY KEY,
    height BIGINT,
    timestamp BIGINT
  );`,
	`CREATE TABLE IF NOT EXISTS modules(
    id TEXT PRIMARY KEY,
    owner TEXT,
    tags TEXT
  );`,
	`CREATE TABLE IF NOT EXISTS evaluations(
    id TEXT PRIMARY KEY,
    "processId" TEXT,
    "messageId" TEXT,
    "deepHash" TEXT,
    nonce BIGINT,
    epoch BIGINT,
    timestamp BIGINT,
    ordinate TEXT,
    "blockHeight" BIGINT,
    cron TEXT,
    output TEXT,
    "evaluatedAt" BIGINT
  );`,
	`CREATE TABLE IF NOT EXISTS messages(
    id TEXT,
    "processId" TEXT,
    seq TEXT,
    PRIMARY KEY (id, "processId")
  );`,
	`CREATE TABLE IF NOT EXISTS checkpoints(
    id TEXT PRIMARY KEY,
    "processId" TEXT,
    timestamp BIGINT,
    ordinate TEXT,
    cron TEXT,
    memory TEXT,
    evaluation TEXT
  );`,
	`CREATE TABLE IF NOT EXISTS checkpoint_files(
    id TEXT PRIMARY KEY,
    "processId" TEXT UNIQUE,
    timestamp BIGINT,
    ordinate TEXT,
    cron TEXT,
    file TEXT,
    evaluation TEXT,
    "cachedAt" BIGINT
  );`,
	`CREATE INDEX IF NOT EXISTS idx_blocks_height_timestamp
    ON blocks
    (height, timestamp);`,
	`CREATE INDEX IF NOT EXISTS idx_messages_id_processId_seq
    ON messages
    (id, "processId", seq);`,
	`CREATE INDEX IF NOT EXISTS idx_checkpoints_processId_timestamp
    ON checkpoints
    ("processId", timestamp);`,
	`CREATE INDEX IF NOT EXISTS idx_checkpoint_files_processId_timestamp
    ON checkpoints
    ("processId", timestamp);`,

	// Not the reference's: the one addition. The range queries compare ids
	// byte-wise (COLLATE "C", as SQLite's BINARY collation does) whatever
	// the database's default collation, and the primary key's index, built
	// with the column's default collation, cannot serve a COLLATE "C"
	// comparison (not even in a database whose default is C). This index
	// can. On a large existing database it is built once at the first Open,
	// holding off writes to evaluations meanwhile; an operator can build it
	// beforehand, without blocking, with the same statement and
	// CONCURRENTLY.
	IDIndexSQL,

	// Not the reference's either: aocu's own table (prefixed aocu_), which
	// the reference never reads; its tables stay as they are.
	ModuleBinariesSQL,
}

// ModuleBinariesSQL creates aocu_module_binaries: the sha256 (hex) and size
// of each module binary that compiled, which a cached copy must match before
// it is used again (ao.ModuleBinaryStore).
const ModuleBinariesSQL = `CREATE TABLE IF NOT EXISTS aocu_module_binaries(
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL
  );`

// IDIndexSQL creates the C-collated index on evaluations.id that the range
// queries use (the only schema object the reference does not have).
const IDIndexSQL = `CREATE INDEX IF NOT EXISTS idx_evaluations_id_collate_c
    ON evaluations
    (id COLLATE "C");`

// schemaObjects are the tables and indexes that schema creates (the index
// names folded to lower case, as PostgreSQL stores them). When all are in the
// current schema, Open runs no DDL, so that a role without CREATE on the
// schema can use a database made beforehand.
var schemaObjects = []string{
	"processes", "blocks", "modules", "evaluations", "messages", "checkpoints", "checkpoint_files",
	"idx_blocks_height_timestamp", "idx_messages_id_processid_seq", "idx_checkpoints_processid_timestamp",
	"idx_checkpoint_files_processid_timestamp", "idx_evaluations_id_collate_c",
	"aocu_module_binaries",
}

// schemaLockKey is the pg_advisory_xact_lock key that serialises schema
// creation between CUs starting at once on a new database (concurrent
// CREATE TABLE IF NOT EXISTS of one table can fail on pg_type's unique
// index).
const schemaLockKey int64 = 0x616f63755f706773 // "aocu_pgs"
