// name: hubs
// description: Per layer, the neurons with the most significant in- or out-edges under a condition.
// param run_id: string -- the run
// param condition: string = clean -- condition name
// param direction: string(in|out) = out -- count in-edges or out-edges
// param top: int(1..) = 10 -- neurons per layer
// param layer: string = null -- only this layer (default: every layer)
// returns: layer, layer_order, rank (within the layer), uid, idx, channel, y, x, rate,
//   spike_count, direction, degree, sum_z, mean_z, max_z; neurons of degree 0 are left out;
//   ordered by layer order, then degree desc, sum_z desc, idx.
// note: counted over every significant edge of the run's files at ingest (the neurons' degree
//   lists, indexed by Run.degree_conditions), whatever subset of edges the graph holds.
// table: layer, rank, uid, channel, y, x, rate, direction, degree, mean_z, max_z
MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (run:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer)
WHERE $layer IS NULL OR l.name = $layer
WITH l, [i IN range(0, size(coalesce(run.degree_conditions, [])) - 1)
         WHERE run.degree_conditions[i] = $condition][0] AS k
CALL (l, k) {
  MATCH (n:Neuron {run_id: $run_id, layer: l.name})
  WITH n, CASE $direction WHEN 'in' THEN n.in_degree[k] ELSE n.out_degree[k] END AS degree,
       CASE $direction WHEN 'in' THEN n.in_sum_z[k] ELSE n.out_sum_z[k] END AS sum_z,
       CASE $direction WHEN 'in' THEN n.in_max_z[k] ELSE n.out_max_z[k] END AS max_z
  WHERE degree > 0
  ORDER BY degree DESC, sum_z DESC, n.idx
  LIMIT $top
  RETURN collect({n: n, degree: degree, sum_z: sum_z, max_z: max_z}) AS rows
}
UNWIND range(0, size(rows) - 1) AS i
WITH l, i, rows[i] AS w
WITH l, i, w, w.n AS n
RETURN l.name AS layer, l.order AS layer_order, i + 1 AS rank, n.uid AS uid, n.idx AS idx,
       n.channel AS channel, n.y AS y, n.x AS x, n.rate AS rate, n.spike_count AS spike_count,
       $direction AS direction, w.degree AS degree, w.sum_z AS sum_z,
       w.sum_z / w.degree AS mean_z, w.max_z AS max_z
ORDER BY layer_order, rank
