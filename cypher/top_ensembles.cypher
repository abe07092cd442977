// name: top_ensembles
// description: Per layer, the analysed neurons with the largest gain, strongest class encoding during events, or largest 1FC group.
// param run_id: string -- the run (ingested after `fcgraph analyze`)
// param by: string(gain|mi_event|mi_average|group_size|r2) = gain -- ranking property
// param top: int(1..) = 10 -- neurons per layer
// param layer: string = null -- only this layer (default: every layer)
// returns: layer, layer_order, rank, uid, idx, channel, y, x, rate, group_size, gain, gain_lo,
//   gain_hi, threshold, r2, r2_linear, event_fraction, mi_event, mi_average, mi_shuffle, score
//   (the ranking property); only analysed neurons with that property; by layer order, then
//   score desc, idx.
// table: layer, rank, uid, rate, group_size, gain, threshold, r2, event_fraction, score
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer)
WHERE $layer IS NULL OR l.name = $layer
CALL (l) {
  MATCH (n:Neuron {run_id: $run_id, layer: l.name})
  WHERE n.analysed AND n[$by] IS NOT NULL
  WITH n ORDER BY n[$by] DESC, n.idx
  LIMIT $top
  RETURN collect(n) AS ns
}
UNWIND range(0, size(ns) - 1) AS i
WITH l, i, ns[i] AS n
RETURN l.name AS layer, l.order AS layer_order, i + 1 AS rank, n.uid AS uid, n.idx AS idx,
       n.channel AS channel, n.y AS y, n.x AS x, n.rate AS rate, n.group_size AS group_size,
       n.gain AS gain, n.gain_lo AS gain_lo, n.gain_hi AS gain_hi, n.threshold AS threshold,
       n.r2 AS r2, n.r2_linear AS r2_linear, n.event_fraction AS event_fraction,
       n.mi_event AS mi_event, n.mi_average AS mi_average, n.mi_shuffle AS mi_shuffle,
       n[$by] AS score
ORDER BY layer_order, rank
