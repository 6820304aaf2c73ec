package sqlitestore

// schema is the reference CU's (servers/cu/src/effects/sqlite.js), statement
// for statement and in the same order, so that a database written by either
// CU is recognisable to operators of the other.
//
// Two reference quirks are kept on purpose:
//   - the JSON columns are declared JSONB, which SQLite gives NUMERIC affinity;
//     JSON objects and arrays are never numeric literals, so they are stored
//     as TEXT unchanged;
//   - idx_checkpoint_files_processId_timestamp is created ON checkpoints, not
//     checkpoint_files (the reference's copy-paste), so checkpoints carries two
//     identical indexes and checkpoint_files only its UNIQUE(processId) one.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS processes(
    id TEXT PRIMARY KEY,
    signature TEXT,
    data TEXT,
    anchor TEXT,
    owner TEXT,
    tags JSONB,
    block JSONB
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS blocks(
    id INTEGER PRIMARY KEY,
    height INTEGER,
    timestamp INTEGER
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS modules(
    id TEXT PRIMARY KEY,
    owner TEXT,
    tags JSONB
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS evaluations(
    id TEXT PRIMARY KEY,
    processId TEXT,
    messageId TEXT,
    deepHash TEXT,
    nonce INTEGER,
    epoch INTEGER,
    timestamp INTEGER,
    ordinate TEXT,
    blockHeight INTEGER,
    cron TEXT,
    output JSONB,
    evaluatedAt INTEGER
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS messages(
    id TEXT,
    processId TEXT,
    seq TEXT,
    PRIMARY KEY (id, processId)
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS checkpoints(
    id TEXT PRIMARY KEY,
    processId TEXT,
    timestamp INTEGER,
    ordinate TEXT,
    cron TEXT,
    memory TEXT,
    evaluation TEXT
  ) WITHOUT ROWID;`,
	`CREATE TABLE IF NOT EXISTS checkpoint_files(
    id TEXT PRIMARY KEY,
    processId TEXT UNIQUE,
    timestamp INTEGER,
    ordinate TEXT,
    cron TEXT,
    file TEXT,
    evaluation TEXT,
    cachedAt INTEGER
  ) WITHOUT ROWID;`,
	`CREATE INDEX IF NOT EXISTS idx_blocks_height_timestamp
    ON blocks
    (height, timestamp);`,
	`CREATE INDEX IF NOT EXISTS idx_messages_id_processId_seq
    ON messages
    (id, processId, seq);`,
	`CREATE INDEX IF NOT EXISTS idx_checkpoints_processId_timestamp
    ON checkpoints
    (processId, timestamp);`,
	`CREATE INDEX IF NOT EXISTS idx_checkpoint_files_processId_timestamp
    ON checkpoints
    (processId, timestamp);`,

	// Not the reference's: aocu's own table (prefixed aocu_), beside the
	// reference's, which stay as they are so that the reference CU can still
	// use the file. The reference never reads it.
	ModuleBinariesSQL,
}

// ModuleBinariesSQL creates aocu_module_binaries: the sha256 (hex) and size
// of each module binary that compiled, which a cached copy must match before
// it is used again (ao.ModuleBinaryStore).
const ModuleBinariesSQL = `CREATE TABLE IF NOT EXISTS aocu_module_binaries(
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;`
