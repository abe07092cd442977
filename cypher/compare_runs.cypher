// name: compare_runs
// description: Per layer pair, the live edges two runs share (e.g. trained vs weight-permuted).
// param run_id: string -- the first run (e.g. the trained network)
// param other_run_id: string -- the second run (e.g. the weight-permuted network)
// param condition: string = clean -- condition of the first run
// param other_condition: string = null -- condition of the second run (default: the same name)
// needs_all_edges: run_id:condition, other_run_id:other_condition
// returns: one row per FEEDS layer pair of the first run: pre_layer, post_layer, run_id,
//   other_run_id, condition, other_condition, run_edges, other_edges, shared (edges of the
//   first run whose pre_layer/pre_idx/post_layer/post_idx also has a live edge in the second),
//   only_run = run_edges - shared, split into silenced (the pre or post neuron was not tested
//   in the second run: Neuron.silent_in) and weakened (both tested there, not significant),
//   only_other = other_edges - shared,
//   jaccard = shared / (run_edges + other_edges - shared) (null when both are empty),
//   mean_z_shared / mean_z_only_run (first run's z of its shared / unshared edges).
// note: a summary, not an edge listing; for single edges use `ensemble` on both runs.
MATCH (ca:Condition {run_id: $run_id, name: $condition})
MATCH (cb:Condition {run_id: $other_run_id, name: coalesce($other_condition, $condition)})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l1:Layer)-[:FEEDS]->(l2:Layer)
WITH ca.gen AS agen, cb.gen AS bgen, cb.name AS bname, l1, l2
CALL (agen, bgen, bname, l1, l2) {
  // per pre neuron: its edges in both runs, keyed by the post neuron's index
  MATCH (x:Neuron {run_id: $run_id, layer: l1.name})
  CALL (x, agen, bgen, bname, l1, l2) {
    OPTIONAL MATCH (x2:Neuron {uid: $other_run_id + '/' + l1.name + '/' + toString(x.idx)})
    WITH x, agen, bgen, bname, l1, l2, bname IN coalesce(x2.silent_in, []) AS pre_silent
    CALL (x, agen, bgen, bname, l1, l2) {
      MATCH (x)-[r:FC]->(y)
      WHERE r.gen = agen AND r.condition = $condition AND y.layer = l2.name
      RETURN y.idx AS j, 1 AS ina, 0 AS inb, r.z AS z
      UNION ALL
      MATCH (x2:Neuron {uid: $other_run_id + '/' + l1.name + '/' + toString(x.idx)})-[s:FC]->(y)
      WHERE s.gen = bgen AND s.condition = bname AND y.layer = l2.name
      RETURN y.idx AS j, 0 AS ina, 1 AS inb, null AS z
    }
    WITH j, max(ina) AS ina, max(inb) AS inb, max(z) AS z, pre_silent
    WITH j, ina, inb, z,
         CASE WHEN ina = 1 AND inb = 0 THEN
           CASE WHEN pre_silent OR EXISTS {
             MATCH (y2:Neuron {uid: $other_run_id + '/' + l2.name + '/' + toString(j)})
             WHERE bname IN coalesce(y2.silent_in, []) } THEN 1 ELSE 0 END
         ELSE 0 END AS silenced
    RETURN sum(ina) AS na, sum(ina * inb) AS shared, sum(silenced) AS silenced,
           sum(CASE WHEN inb = 1 THEN z END) AS z_shared,
           sum(CASE WHEN inb = 0 THEN z END) AS z_only
  }
  RETURN sum(na) AS run_edges, sum(shared) AS shared, sum(silenced) AS silenced,
         sum(z_shared) AS z_shared, sum(z_only) AS z_only
}
CALL (bgen, bname, l1, l2) {
  MATCH (x:Neuron {run_id: $other_run_id, layer: l1.name})
  CALL (x, bgen, bname, l2) {
    MATCH (x)-[s:FC]->(y)
    WHERE s.gen = bgen AND s.condition = bname AND y.layer = l2.name
    RETURN count(s) AS n
  }
  RETURN sum(n) AS other_edges
}
RETURN l1.name AS pre_layer, l2.name AS post_layer, $run_id AS run_id,
       $other_run_id AS other_run_id, $condition AS condition, bname AS other_condition,
       run_edges, other_edges, shared, run_edges - shared AS only_run,
       run_edges - shared - silenced AS weakened, silenced, other_edges - shared AS only_other,
       CASE WHEN run_edges + other_edges - shared > 0
            THEN toFloat(shared) / (run_edges + other_edges - shared) END AS jaccard,
       CASE WHEN shared > 0 THEN z_shared / shared END AS mean_z_shared,
       CASE WHEN run_edges > shared THEN z_only / (run_edges - shared) END AS mean_z_only_run
ORDER BY l1.order, l2.order
