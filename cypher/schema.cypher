// fcgraph graph schema. schema_version: 4
// Applied by `fcgraph db init` and before every ingest; every statement is idempotent.
//
// (:Run {run_id, schema_version, states_key, states_exact, degree_conditions, loss_baseline,
//        ...parameters})
// (:Run)-[:HAS_LAYER]->(:Layer {uid, run_id, name, order, shape, n_neurons})
// (:Layer)-[:FEEDS]->(:Layer)
// (:Run)-[:HAS_CONDITION]->(:Condition {uid, run_id, name, kind, level, gen, n_edges, ...})
// (:Neuron {uid, run_id, layer, layer_order, idx, channel, y, x, rate, spike_count, silent_in,
//           in_degree, out_degree, in_sum_z, out_sum_z, in_max_z, out_max_z, in_lost_max_z,
//           out_lost_max_z})
// (:Neuron)-[:FC {condition, gen, value, z, cofire, null_mean, null_sd, p, q,
//                 weakened_in, silenced_in}]->(:Neuron)
// (:EdgeLoss {uid, run_id, baseline, condition, pre_layer, post_layer, pre_order, post_order,
//             baseline_edges, condition_edges, kept, weakened, silenced, lost, gained,
//             lost_fraction, jaccard, exact})
// (:PairStats {uid, run_id, condition, pre_layer, post_layer, pre_order, post_order, edges,
//              connected_pre, connected_post, mean_z, mean_value})
//
// Edge states (fcgraph/fc/edge_states.py) come from the run's files, so they count every
// significant edge whatever subset the graph holds: Neuron.silent_in lists the conditions fc did
// not test the neuron under (too few spikes); an FC edge's weakened_in / silenced_in list the
// conditions under which it is weakened / silenced (absent: kept under every other condition);
// one EdgeLoss node per (baseline, condition, layer pair) holds the counts. Likewise from the
// files, over every edge: a neuron's degree lists hold one value per condition of the Run's
// degree_conditions (absent on a neuron without edges), its loss lists (in/out_lost_max_z) per
// condition the largest z of its Run.loss_baseline edges lost under it (NaN: none), and one
// PairStats node per (condition, layer pair) the pair's totals (fcgraph/graph/states.py).
//
// uids embed the run: Layer "<run_id>/<layer>", Condition "<run_id>/<condition>",
// Neuron "<run_id>/<layer>/<idx>". An FC edge is live when r.gen = the gen of its Condition.
// (:IngestBatch {uid, load}) nodes exist only while a load is in progress: one per committed
// batch, so a killed ingest resumes after the batches it finished.
// (:IngestLock {run}) is never committed: an ingest or delete of a run holds a write lock on it
// in an open transaction (unique, so a second ingest of the run waits; see graph/ingest.py).
// No relationship index: each one slows every edge write and must be populated over every
// edge after a bulk import, and the queries start from indexed Neuron / Condition nodes and
// traverse. (Schema version 1 had an index on FC.condition; it is dropped. Version 2 edges also
// carried run_id and measure, which their nodes and the Run's fc_measure already hold; the two
// copies cost 14 % of the demo's bulk import time and 17 % of its store.)

CREATE CONSTRAINT run_id IF NOT EXISTS FOR (r:Run) REQUIRE r.run_id IS UNIQUE;
CREATE CONSTRAINT layer_uid IF NOT EXISTS FOR (l:Layer) REQUIRE l.uid IS UNIQUE;
CREATE CONSTRAINT condition_uid IF NOT EXISTS FOR (c:Condition) REQUIRE c.uid IS UNIQUE;
CREATE CONSTRAINT neuron_uid IF NOT EXISTS FOR (n:Neuron) REQUIRE n.uid IS UNIQUE;
CREATE INDEX layer_run IF NOT EXISTS FOR (l:Layer) ON (l.run_id, l.name);
CREATE INDEX condition_run IF NOT EXISTS FOR (c:Condition) ON (c.run_id, c.name);
CREATE INDEX neuron_run_layer IF NOT EXISTS FOR (n:Neuron) ON (n.run_id, n.layer);
CREATE INDEX neuron_run_layer_idx IF NOT EXISTS FOR (n:Neuron) ON (n.run_id, n.layer, n.idx);
DROP INDEX fc_condition IF EXISTS;
CREATE CONSTRAINT edge_loss_uid IF NOT EXISTS FOR (e:EdgeLoss) REQUIRE e.uid IS UNIQUE;
CREATE INDEX edge_loss_run IF NOT EXISTS FOR (e:EdgeLoss) ON (e.run_id, e.baseline, e.condition);
CREATE CONSTRAINT pair_stats_uid IF NOT EXISTS FOR (s:PairStats) REQUIRE s.uid IS UNIQUE;
CREATE INDEX pair_stats_run IF NOT EXISTS FOR (s:PairStats) ON (s.run_id, s.condition);
CREATE CONSTRAINT ingest_batch_uid IF NOT EXISTS FOR (b:IngestBatch) REQUIRE b.uid IS UNIQUE;
CREATE INDEX ingest_batch_load IF NOT EXISTS FOR (b:IngestBatch) ON (b.load);
CREATE CONSTRAINT ingest_lock_run IF NOT EXISTS FOR (l:IngestLock) REQUIRE l.run IS UNIQUE;
