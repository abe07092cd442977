// name: compare_runs
// description: Per layer pair, the live edges two runs share (e.g. trained vs weight-permuted).
// param run_id: string -- the first run (e.g. the trained network)
// param other_run_id: string -- the second run (e.g. the weight-permuted network)
// param condition: string = clean -- condition of the first run
// param other_condition: string = null -- condition of the second run (default: the same name)
// param pre_layer: string = null -- only the layer pairs starting in this layer (default: every pair)
// needs_all_edges: run_id:condition, other_run_id:other_condition
// table: pre_layer, post_layer, run_edges, other_edges, shared, silenced, weakened, jaccard
// returns: one row per FEEDS layer pair of the first run: pre_layer, post_layer, run_id,
//   other_run_id, condition, other_condition, run_edges, other_edges, shared (edges of the
//   first run whose pre_layer/pre_idx/post_layer/post_idx also has a live edge in the second),
//   only_run = run_edges - shared, split into silenced (the pre or post neuron was not tested
//   in the second run: Neuron.silent_in) and weakened (both tested there, not significant),
//   only_other = other_edges - shared,
//   jaccard = shared / (run_edges + other_edges - shared) (null when both are empty),
//   mean_z_shared / mean_z_only_run (first run's z of its shared / unshared edges).
// note: a summary, not an edge listing; for single edges use `ensemble` on both runs.
//   run_edges and other_edges are the runs' totals over every significant edge (PairStats).
//   Two conditions of one run: each loaded first-condition edge's state under the other (its
//   weakened_in / silenced_in lists, from the run's files) gives shared / weakened / silenced;
//   `edge_loss` has the same counts without reading any edge, whatever subset is loaded.
//   Two runs: shared is counted on the loaded edges, reading each first-run neuron's edges and
//   its namesake's in the second run once.
MATCH (ca:Condition {run_id: $run_id, name: $condition})
MATCH (cb:Condition {run_id: $other_run_id, name: coalesce($other_condition, $condition)})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l1:Layer)-[:FEEDS]->(l2:Layer)
WHERE $pre_layer IS NULL OR l1.name = $pre_layer
OPTIONAL MATCH (sa:PairStats {run_id: $run_id, condition: ca.name, pre_layer: l1.name,
                              post_layer: l2.name})
OPTIONAL MATCH (sb:PairStats {run_id: $other_run_id, condition: cb.name, pre_layer: l1.name,
                              post_layer: l2.name})
WITH ca.gen AS agen, cb.gen AS bgen, cb.name AS bname, l1, l2,
     coalesce(sa.edges, 0) AS run_edges, coalesce(sb.edges, 0) AS other_edges
CALL (agen, bgen, bname, l1, l2) {
  // one run: the first condition's edges and their states under the second
  WITH agen, bname, l1, l2 WHERE $other_run_id = $run_id
  MATCH (x:Neuron {run_id: $run_id, layer: l1.name})-[r:FC]->(y)
  WHERE r.gen = agen AND r.condition = $condition AND y.layer = l2.name
  WITH r.z AS z, CASE WHEN bname IN coalesce(r.silenced_in, []) THEN 2
                      WHEN bname IN coalesce(r.weakened_in, []) THEN 1 ELSE 0 END AS state
  RETURN sum(CASE state WHEN 0 THEN 1 ELSE 0 END) AS shared,
         sum(CASE state WHEN 2 THEN 1 ELSE 0 END) AS silenced,
         sum(CASE state WHEN 0 THEN z END) AS z_shared,
         sum(CASE state WHEN 0 THEN null ELSE z END) AS z_only
  UNION ALL
  // two runs: per first-run neuron, its edges and its namesake's, matched by post index
  WITH agen, bgen, bname, l1, l2 WHERE $other_run_id <> $run_id
  CALL (bname, l2) {
    // the second run's post neurons silenced under its condition, as a list indexed by idx
    MATCH (y2:Neuron {run_id: $other_run_id, layer: l2.name})
    WITH y2 ORDER BY y2.idx
    RETURN collect(y2.idx) AS post_idx,
           collect(bname IN coalesce(y2.silent_in, [])) AS post_silent
  }
  MATCH (x:Neuron {run_id: $run_id, layer: l1.name})
  OPTIONAL MATCH (x2:Neuron {uid: $other_run_id + '/' + l1.name + '/' + toString(x.idx)})
  WITH agen, bgen, bname, l2, post_idx, post_silent, x, x2,
       bname IN coalesce(x2.silent_in, []) AS pre_silent
  CALL (x, x2, agen, bgen, bname, l2) {
    // each edge of x (and of x2, when another node) once; per post index: in run a, in run b
    UNWIND CASE WHEN x2 IS NULL OR x2 = x THEN [x] ELSE [x, x2] END AS n
    MATCH (n)-[r:FC]->(y)
    WITH n, r, y,
         CASE WHEN n = x AND r.gen = agen AND r.condition = $condition THEN 1 ELSE 0 END AS ina,
         CASE WHEN n = x2 AND r.gen = bgen AND r.condition = bname THEN 1 ELSE 0 END AS inb
    WHERE ina + inb > 0 AND y.layer = l2.name
    RETURN y.idx AS j, max(ina) AS ina, max(inb) AS inb, max(CASE WHEN ina = 1 THEN r.z END) AS z
  }
  WITH j, ina, inb, z,
       CASE WHEN ina = 1 AND inb = 0 THEN
         CASE WHEN pre_silent THEN 1
              WHEN post_idx[j] = j THEN CASE WHEN post_silent[j] THEN 1 ELSE 0 END
              WHEN EXISTS {
                MATCH (y2:Neuron {uid: $other_run_id + '/' + l2.name + '/' + toString(j)})
                WHERE bname IN coalesce(y2.silent_in, []) } THEN 1 ELSE 0 END
       ELSE 0 END AS silenced
  RETURN sum(ina * inb) AS shared, sum(silenced) AS silenced,
         sum(CASE WHEN inb = 1 THEN z END) AS z_shared,
         sum(CASE WHEN inb = 0 THEN z END) AS z_only
}
WITH l1, l2, bname, run_edges, other_edges, sum(shared) AS shared, sum(silenced) AS silenced,
     sum(z_shared) AS z_shared, sum(z_only) AS z_only
RETURN l1.name AS pre_layer, l2.name AS post_layer, $run_id AS run_id,
       $other_run_id AS other_run_id, $condition AS condition, bname AS other_condition,
       run_edges, other_edges, shared, run_edges - shared AS only_run,
       run_edges - shared - silenced AS weakened, silenced, other_edges - shared AS only_other,
       CASE WHEN run_edges + other_edges - shared > 0
            THEN toFloat(shared) / (run_edges + other_edges - shared) END AS jaccard,
       CASE WHEN shared > 0 THEN z_shared / shared END AS mean_z_shared,
       CASE WHEN run_edges > shared THEN z_only / (run_edges - shared) END AS mean_z_only_run
ORDER BY l1.order, l2.order
