// name: ensemble
// description: The 1FC group of a neuron: its live in-edges under a condition, strongest (z) first.
// param run_id: string -- the run
// param uid: string -- the post neuron, "<run_id>/<layer>/<idx>"
// param condition: string = clean -- condition name
// param min_z: float = null -- keep only edges with z >= min_z (default: every loaded edge)
// param limit: int(1..) = 1000 -- at most this many rows
// needs_all_edges: run_id:condition
// returns: one row per pre neuron (previous layer or a declared feeder): pre_uid, pre_layer,
//   pre_idx, pre_channel, pre_y, pre_x, pre_rate, post_uid, post_layer, post_idx, value, z,
//   cofire, null_mean, null_sd, p, q; ordered by z desc, then pre_layer, pre_idx.
// table: pre_uid, pre_channel, pre_y, pre_x, pre_rate, post_uid, value, z, cofire
MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (post:Neuron {uid: $uid})
WHERE post.run_id = $run_id
WITH c.gen AS gen, post
MATCH (pre:Neuron)-[r:FC]->(post)
WHERE r.condition = $condition AND r.gen = gen
  AND ($min_z IS NULL OR r.z >= $min_z)
RETURN pre.uid AS pre_uid, pre.layer AS pre_layer, pre.idx AS pre_idx,
       pre.channel AS pre_channel, pre.y AS pre_y, pre.x AS pre_x, pre.rate AS pre_rate,
       post.uid AS post_uid, post.layer AS post_layer, post.idx AS post_idx,
       r.value AS value, r.z AS z, r.cofire AS cofire, r.null_mean AS null_mean,
       r.null_sd AS null_sd, r.p AS p, r.q AS q
ORDER BY z DESC, pre_layer, pre_idx
LIMIT $limit
