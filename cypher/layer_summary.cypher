// name: layer_summary
// description: Per layer pair and condition: neurons, significant edges, density, mean degrees, mean z.
// param run_id: string -- the run
// param condition: string = null -- only this condition (default: every condition of the run)
// table: pre_layer, post_layer, condition, edges, density, mean_in_degree, mean_z
// returns: pre_layer, post_layer, condition, pre_neurons, post_neurons, edges,
//   density = edges / (pre_neurons * post_neurons), mean_in_degree = edges / post_neurons,
//   mean_out_degree = edges / pre_neurons, connected_pre / connected_post (neurons with at
//   least one edge of the pair), mean_z, mean_value (null without edges); in layer order, then
//   clean first and the other conditions by name.
// note: counted over every significant edge of the run's files at ingest (PairStats nodes),
//   whatever subset of edges the graph holds.
MATCH (run:Run {run_id: $run_id})-[:HAS_LAYER]->(l1:Layer)-[:FEEDS]->(l2:Layer)
MATCH (run)-[:HAS_CONDITION]->(c:Condition)
WHERE $condition IS NULL OR c.name = $condition
OPTIONAL MATCH (s:PairStats {run_id: $run_id, condition: c.name, pre_layer: l1.name,
                             post_layer: l2.name})
WITH l1, l2, c, s, coalesce(s.edges, 0) AS edges
RETURN l1.name AS pre_layer, l2.name AS post_layer, c.name AS condition,
       l1.n_neurons AS pre_neurons, l2.n_neurons AS post_neurons, edges,
       toFloat(edges) / (l1.n_neurons * l2.n_neurons) AS density,
       toFloat(edges) / l2.n_neurons AS mean_in_degree,
       toFloat(edges) / l1.n_neurons AS mean_out_degree,
       coalesce(s.connected_pre, 0) AS connected_pre,
       coalesce(s.connected_post, 0) AS connected_post, s.mean_z AS mean_z,
       s.mean_value AS mean_value
ORDER BY l1.order, l2.order, c.name <> 'clean', c.name
