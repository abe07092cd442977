"""The five claims, their statistics and their criteria, fixed in advance (the README's
table is generated from here: ``criteria_markdown``; so are the manual's, when it is built)."""

from __future__ import annotations

from fcgraph.analysis.curve_models import MARGIN_BITS

#: The paper whose findings these are.
PAPER = ("Aravind et al., \u201cRare Events, Real Signals: 1FC ensembles in spiking ResNets\u201d "
         "(arXiv 2606.00073)")
#: The words the claims use, defined once (the report prints them above its findings).
TERMS = {
    "1FC group": "a neuron's first-order functional connectivity group: the previous-layer "
                 "neurons whose spike trains are significantly correlated with its own (its "
                 "significant in-edges).",
    "STTC": "the spike time tiling coefficient, a correlation of two spike trains that does "
            "not depend on their firing rates (here at lag 0: spikes in the same bin).",
    "exact null": "the same-bin cofiring count expected by chance, its mean and SD computed "
                  "exactly over every circular shift of the post layer by whole images (the "
                  "default; any bin with --shift-unit 1); an edge's z is its distance from that "
                  "mean in SDs.",
    "shift null": "the same mean and SD estimated from sampled circular shifts (fc --null "
                  "shift: 100, at least 40 bins away, by default); with --shift-unit 1 it is the "
                  "paper's own any-offset draw.",
    "trial null": "the cofiring the same images give in other trials (fc --null trial, on a "
                  "recording of repeated noisy trials, record --trials): with it an edge means "
                  "firing together beyond what the image explains; the image nulls cannot tell "
                  "that apart from shared stimulus drive.",
    "control network": "the same architecture without learned structure (weights permuted "
                       "within each layer, or untrained with BatchNorm recalibrated), analysed "
                       "with its own 1FC groups; a finding must beat every control.",
    "training checkpoint": "the trained network as it was after an earlier training epoch "
                           "(record --condition epoch:E), analysed with its own 1FC groups like "
                           "a control and reported in finding 5's training trajectory; it gates "
                           "no verdict (a few epochs may already learn the task).",
}

CLAIMS = {
    "1": "A neuron's 1FC group is the set of previous-layer neurons whose pairwise spike "
         "correlation with it is statistically significant.",
    "2": "Reliable class encoding emerges during rare, high 1FC cofiring events; average activity "
         "encodes it less well.",
    "3": "The ensemble's aggregate cofiring predicts the neuron's response through a ReLU-like "
         "input-output curve whose gain scales with ensemble size.",
    "4": "Uniform noise and adversarial perturbations disrupt these profiles, most in early and "
         "intermediate layers.",
    "5": "The functional structure is shaped by learning and breaks under weight permutation.",
}
CRITERIA = {
    "1": "trained: CI lower bound of the edge rate >= 2 x false-edge rate, >= 50% of post "
         "neurons with a group, and CI lower bound of the edges' like-to-like > 0; and for every "
         "control network, CI lower bounds of mean log2(trained / control edge rate) and of "
         "trained - control like-to-like > 0 (a control with too few edges to measure "
         "like-to-like is exempt from that one). CIs: image-block jackknife.",
    "2": "trained: median event fraction <= 0.10, CI lower bounds of mean(event - "
         "count-matched) and mean(event - random-bin) decoding > 0, and the event read-out above "
         "chance in >= 1 layer (label permutations, Holm over layers); and for every control "
         "network, CI lower bound of (event - count-matched) minus the control's > 0.",
    "3": "trained, with each neuron sampled and its group selected on one half of the images "
         "and its curve fitted on the other: >= 10 fitted neurons, CI lower bound of the "
         "ReLU-like share >= 0.5 and of its excess over same-size random groups > 0 (ReLU-like: "
         "in --folds-fold cross-validation over images, threshold-linear or softplus has the "
         f"best held-out Bernoulli likelihood, above a saturating sigmoid's, and beats the line by "
         f">= {MARGIN_BITS} bits per image with a one-sided (1 - alpha) lower bound > 0, "
         "gain > 0), and CI lower bound of beta - beta(random groups) > 0 (beta alone when the "
         "random groups' mean gain is not above 0); and for every control network (its own "
         "groups, the same split), the share's and that excess's differences (trained - "
         "control) have CI lower bounds > 0. CIs: image-block jackknife over the fitting "
         "images, every curve refitted on each replicate.",
    "4": "a reliability floor and >= 2 layer pairs; every perturbation has a layer pair whose "
         "disruption beyond the floor has CI lower bound > 0, and CI lower bound of "
         "mean(early-two-thirds minus last-third disruption) > 0 (CIs: image-block jackknife, "
         "widened by the seed-to-seed spread of the floor's noise draws when there are several, "
         "the images' SE at least the split-half spread abs(S_A - S_B) / 2), and that contrast > 0 "
         "in each half of the images.",
    "5": "for every control network: CI lower bound of (trained - control) average decoding > 0, "
         "and at least one of findings 1-3's contrasts with it > 0; and trained average decoding "
         "above chance in >= 1 layer (label permutations, Holm over layers). Training checkpoints "
         "are reported (average decoding and these contrasts per epoch, Spearman rho of decoding "
         "against epoch), not gating.",
}
STATISTICS = {
    "1": "trained edge rate / false-edge rate",
    "2": "mean over layers and images of event - count-matched decoding (trained)",
    "3": "gain law exponent beta (gain ∝ size^beta) minus that of same-size random groups, "
         "fitted out of sample",
    "4": "early minus late disruption beyond the reliability floor",
    "5": "mean over control networks of trained - control average decoding",
}

#: what each finding's trained - control contrast measures
CONTRASTS = {"1": "log2 edge rate ratio", "2": "(event - count-matched) decoding difference",
             "3": "ReLU-like share difference (and beta excess), out of sample",
             "5": "average decoding difference"}



def terms_markdown() -> str:
    """The README's definitions of the words the claims use (:data:`TERMS`), one line each."""
    return "\n".join(f"- **{term}**: {text}" for term, text in TERMS.items())


def criteria_markdown() -> str:
    """The README's table of the findings (claim, statistic, criterion), from this module."""
    rows = [f"| {i} | {CLAIMS[i]} | {STATISTICS[i]} | {CRITERIA[i]} |" for i in CLAIMS]
    return "\n".join(["| # | claim | statistic | supported when |", "| --- | --- | --- | --- |",
                      *rows])
