// name: hubs
// description: Per layer, the neurons with the largest live in- or out-degree under a condition.
// param run_id: string -- the run
// param condition: string = clean -- condition name
// param direction: string(in|out) = out -- count in-edges or out-edges
// param top: int(1..) = 10 -- neurons per layer
// param layer: string = null -- only this layer (default: every layer)
// needs_all_edges: run_id:condition
// returns: layer, layer_order, rank (within the layer), uid, idx, channel, y, x, rate,
//   spike_count, direction, degree, sum_z, mean_z, max_z; neurons of degree 0 are left out;
//   ordered by layer order, then degree desc, sum_z desc, idx.
MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer)
WHERE $layer IS NULL OR l.name = $layer
WITH c.gen AS gen, l
CALL (gen, l) {
  MATCH (n:Neuron {run_id: $run_id, layer: l.name})
  CALL (n, gen) {
    WITH n WHERE $direction = 'out'
    MATCH (n)-[r:FC]->()
    WHERE r.condition = $condition AND r.gen = gen
    RETURN r.z AS z
    UNION ALL
    WITH n WHERE $direction = 'in'
    MATCH (n)<-[r:FC]-()
    WHERE r.condition = $condition AND r.gen = gen
    RETURN r.z AS z
  }
  WITH n, count(z) AS degree, sum(z) AS sum_z, avg(z) AS mean_z, max(z) AS max_z
  ORDER BY degree DESC, sum_z DESC, n.idx
  LIMIT $top
  RETURN collect({n: n, degree: degree, sum_z: sum_z, mean_z: mean_z, max_z: max_z}) AS rows
}
UNWIND range(0, size(rows) - 1) AS i
WITH l, i, rows[i] AS w
WITH l, i, w, w.n AS n
RETURN l.name AS layer, l.order AS layer_order, i + 1 AS rank, n.uid AS uid, n.idx AS idx,
       n.channel AS channel, n.y AS y, n.x AS x, n.rate AS rate, n.spike_count AS spike_count,
       $direction AS direction, w.degree AS degree, w.sum_z AS sum_z, w.mean_z AS mean_z,
       w.max_z AS max_z
ORDER BY layer_order, rank
