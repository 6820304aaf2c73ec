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
//     one). A satisfiable Range answers 206 with the part; a malformed or
//     unsatisfiable one is ignored and the whole body served with 200, as
//     arweave.net does (the reference CU's WeaveDrive sends an invalid range,
//     e.g. "bytes=00610-61", when it reads an On-Boot file).
//   - GET /tx/{id}: Arweave's transaction JSON (format 2; tags base64url).
//   - GET /tx/{id}/status: 202 "Pending" until mined, then block_height,
//     block_indep_hash and number_of_confirmations.
//   - GET /info, GET /: network info (height, current, blocks, ...).
//   - GET /height, GET /block/height/{h}, GET /block/hash/{id}.
//   - POST|GET /mine, /mine/{n}: mine one (or n) blocks now.
//   - POST|GET /graphql: the Arweave gateway GraphQL schema (schema.graphql:
//     arweave.net's, plus Goldsky's tag filters without name or values,
//     op: NEQ and ingested_at), executed by github.com/graph-gophers/graphql-go:
//     transactions(ids, owners, recipients, tags, bundledIn, block,
//     ingested_at, first, after, sort), transaction(id), blocks(ids, height,
//     first, after, sort) and block(id). Answers keep the query's selection
//     order, data before errors.
//
// Client mistakes answer 4xx with a message, never 5xx: an unknown or
// malformed id 404, a bad height, block count or body 400, a body over
// Config.MaxItemSize 413, a method a route does not serve 405.
//
// GraphQL status codes follow the GraphQL-over-HTTP spec's rules for
// application/graphql-response+json, which is also what arweave.net (Apollo
// Server) does for application/json: a request error (the document does not
// parse or validate, a variable or argument does not coerce to its type, the
// operation is missing or ambiguous) answers 400 with {"errors": [...]} and no
// data entry; an error while resolving a field of a valid request answers 200
// with data (that field, or its nearest nullable parent, null) and errors
// carrying the field's path. A malformed HTTP request (body not a JSON object,
// variables not an object) answers 400, a body over 1 MiB 413. The response
// media type is application/graphql-response+json when the Accept header asks
// for it, application/json otherwise. (For application/json the spec
// recommends 200 even for request errors; the local gateway answers 400 as
// production gateways do, so clients see the same statuses here and there.)
//
// Differences from arweave.net worth knowing: items are visible (GraphQL,
// /raw) as soon as they are posted, with block null until the next block (set
// Config.MineOnWrite to mine on every post); the default sort is HEIGHT_DESC,
// pending items first; fee and quantity are always 0; block timestamps are
// seconds and never go backwards, so blocks mined within one second share it;
// a page holds at most 1000 edges (default 10); tag filters match EXACT only
// (WILDCARD and FUZZY_* answer a field error); GraphQL Int is 32-bit, as
// everywhere, so heights and timestamps are int32.
package gateway
