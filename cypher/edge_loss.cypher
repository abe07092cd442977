// name: edge_loss
// description: Per layer pair, baseline edges kept and lost under a condition, and edges gained.
// param run_id: string -- the run
// param condition: string -- the perturbed condition, e.g. uniform:0.1
// param baseline: string = clean -- the reference condition
// returns: one row per FEEDS layer pair of the run: pre_layer, post_layer, baseline, condition,
//   baseline_edges, condition_edges, kept (baseline edges whose neuron pair also has a live
//   edge under the condition), lost = baseline_edges - kept, gained (condition edges whose pair
//   has no baseline edge), lost_fraction = lost / baseline_edges (null when 0),
//   jaccard = kept / (baseline_edges + gained) (null when both are empty); in layer order.
MATCH (bc:Condition {run_id: $run_id, name: $baseline})
MATCH (cc:Condition {run_id: $run_id, name: $condition})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l1:Layer)-[:FEEDS]->(l2:Layer)
WITH bc.gen AS bgen, cc.gen AS cgen, l1, l2
CALL (bgen, cgen, l1, l2) {
  // one pass over each pre neuron's edges, grouped by neuron pair
  MATCH (x:Neuron {run_id: $run_id, layer: l1.name})
  CALL (x, bgen, cgen, l2) {
    MATCH (x)-[r:FC]->(y)
    WHERE r.gen IN [bgen, cgen] AND r.condition IN [$baseline, $condition] AND y.layer = l2.name
    WITH y, max(CASE WHEN r.gen = bgen AND r.condition = $baseline THEN 1 ELSE 0 END) AS inb,
         max(CASE WHEN r.gen = cgen AND r.condition = $condition THEN 1 ELSE 0 END) AS inc
    RETURN sum(inb) AS nb, sum(inc) AS nc, sum(inb * inc) AS nk
  }
  RETURN sum(nb) AS baseline_edges, sum(nc) AS condition_edges, sum(nk) AS kept
}
RETURN l1.name AS pre_layer, l2.name AS post_layer, $baseline AS baseline,
       $condition AS condition, baseline_edges, condition_edges, kept,
       baseline_edges - kept AS lost, condition_edges - kept AS gained,
       CASE WHEN baseline_edges > 0 THEN toFloat(baseline_edges - kept) / baseline_edges END
         AS lost_fraction,
       CASE WHEN baseline_edges + condition_edges - kept > 0
            THEN toFloat(kept) / (baseline_edges + condition_edges - kept) END AS jaccard
ORDER BY l1.order, l2.order
