// Package gateway is an Arweave-like gateway and bundler for local ao
// networks: the subset of arweave.net (and of an ANS-104 bundler) that the ao
// units (CU, MU, SU), aoconnect and WeaveDrive call.
//
// A [Server] is an http.Handler. It keeps ANS-104 data items (owner, tags,
// data, bundle parent, block) in one SQLite file (WAL) under Config.DataDir,
// and simulates a chain: block 0 is made on first start, then a block every
// Config.BlockInterval (and on POST /mine) takes every pending item.
//
// Routes:
//
//   - POST /tx, POST /tx/arweave: a signed ANS-104 data item (verified; 400
//     with a message otherwise). An item tagged Bundle-Format: binary and
//     Bundle-Version: 2.0.0 is unbundled too: its items are stored with it as
//     parent. A bare ANS-104 bundle (detected, or tried first when the
//     Content-Type mentions "bundle") stores its items with parent
//     base64url(sha256(bundle)). Answer: {"id", "timestamp" (ms)} like a
//     bundler, plus "items" for bundles. Posting an item again is a no-op that
//     answers the first timestamp.
//   - GET /raw/{id}, GET /{id}, HEAD of both: the data, with the item's
//     Content-Type tag as content type (application/octet-stream without
//     one); Range requests work.
//   - GET /tx/{id}: Arweave's transaction JSON (format 2; tags base64url).
//   - GET /tx/{id}/status: 202 "Pending" until mined, then block_height,
//     block_indep_hash and number_of_confirmations.
//   - GET /info, GET /: network info (height, current, blocks, ...).
//   - GET /height, GET /block/height/{h}, GET /block/hash/{id}.
//   - POST|GET /mine, /mine/{n}: mine one (or n) blocks now.
//   - POST|GET /graphql: transactions(ids, owners, recipients, tags,
//     bundledIn, block, ingested_at, first, after, sort), transaction(id),
//     blocks(ids, height, first, after, sort) and block(id), with the query
//     language the ao units use: variables (with defaults), aliases,
//     fragments, inline fragments, @skip and @include, __typename. Parse and
//     validation errors answer 400 {"errors": [...]}; errors while resolving a
//     field answer 200 with the field null and an error with its path.
//
// Differences from arweave.net worth knowing: items are visible (GraphQL,
// /raw) as soon as they are posted, with block null until the next block (set
// Config.MineOnWrite to mine on every post); the default sort is HEIGHT_DESC,
// pending items first; fee and quantity are always 0; block timestamps are
// seconds and never go backwards, so blocks mined within one second share it;
// a page holds at most 1000 edges (default 10).
package gateway
