// name: edge_loss
// description: Per layer pair, what becomes of a baseline's edges under a condition: kept, weakened, silenced; and edges gained.
// param run_id: string -- the run
// param condition: string -- the perturbed condition, e.g. uniform:0.1
// param baseline: string = clean -- the reference condition
// table: pre_layer, post_layer, baseline_edges, kept, weakened, silenced, gained, lost_fraction
// returns: one row per FEEDS layer pair of the run, in layer order: pre_layer, post_layer,
//   baseline, condition, baseline_edges, condition_edges, kept (significant under the
//   condition too), weakened (both neurons tested under the condition, pair not significant),
//   silenced (pre or post below min_spikes under the condition: not tested), lost = weakened +
//   silenced, gained (significant under the condition only), lost_fraction = lost /
//   baseline_edges (null when 0), jaccard = kept / (baseline_edges + gained) (null when both
//   are empty), exact (false when fc itself kept only a top-k sample).
// note: counted over every significant edge of the run's files at ingest (EdgeLoss nodes), so
//   the answer does not depend on which subset of edges (--top-k, --min-z) the graph holds.
MATCH (:Condition {run_id: $run_id, name: $baseline}), (:Condition {run_id: $run_id, name: $condition})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l1:Layer)-[:FEEDS]->(l2:Layer)
OPTIONAL MATCH (e:EdgeLoss {run_id: $run_id, baseline: $baseline, condition: $condition,
                            pre_layer: l1.name, post_layer: l2.name})
RETURN l1.name AS pre_layer, l2.name AS post_layer, $baseline AS baseline,
       $condition AS condition, e.baseline_edges AS baseline_edges,
       e.condition_edges AS condition_edges, e.kept AS kept, e.weakened AS weakened,
       e.silenced AS silenced, e.lost AS lost, e.gained AS gained,
       e.lost_fraction AS lost_fraction, e.jaccard AS jaccard, e.exact AS exact
ORDER BY l1.order, l2.order
