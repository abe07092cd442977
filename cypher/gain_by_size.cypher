// name: gain_by_size
// description: Per layer, the fitted gain of the analysed neurons against their 1FC group size (binned), from `fcgraph analyze`.
// param run_id: string -- the run (ingested after `fcgraph analyze`)
// param layer: string = null -- only this layer (default: every layer with fitted neurons)
// param bins: int(1..) = 5 -- equal-width group-size bins per layer, over the layer's sizes
// returns: layer, layer_order, bin (1..bins; empty bins are left out), size_min, size_max,
//   neurons, mean_size, mean_gain, median_gain, mean_threshold, mean_r2, mean_r2_linear,
//   share_threshold_linear (threshold-linear fit beats linear), rho (the layer's Spearman rho of
//   gain vs size from the analysis, over all its fitted neurons); by layer order, then bin.
// table: layer, bin, size_min, size_max, neurons, mean_gain, median_gain, share_threshold_linear, rho
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer)
WHERE $layer IS NULL OR l.name = $layer
MATCH (n:Neuron {run_id: $run_id, layer: l.name})
WHERE n.gain IS NOT NULL AND n.group_size IS NOT NULL
WITH l, collect(n) AS ns, min(n.group_size) AS lo, max(n.group_size) AS hi
UNWIND ns AS n
WITH l, n, toInteger(floor(toFloat(n.group_size - lo) * $bins / (hi - lo + 1))) AS bin
WITH l, bin, count(n) AS neurons, min(n.group_size) AS size_min, max(n.group_size) AS size_max,
     avg(n.group_size) AS mean_size, avg(n.gain) AS mean_gain,
     percentileCont(n.gain, 0.5) AS median_gain, avg(n.threshold) AS mean_threshold,
     avg(n.r2) AS mean_r2, avg(n.r2_linear) AS mean_r2_linear,
     avg(CASE WHEN n.threshold_linear THEN 1.0 ELSE 0.0 END) AS share_threshold_linear
RETURN l.name AS layer, l.order AS layer_order, bin + 1 AS bin, size_min, size_max, neurons,
       mean_size, mean_gain, median_gain, mean_threshold, mean_r2, mean_r2_linear,
       share_threshold_linear, l.gain_size_rho AS rho
ORDER BY layer_order, bin
