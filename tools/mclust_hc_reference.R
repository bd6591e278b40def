# mclust's hierarchical start, merge by merge, for gmmfast's tests (tests/test_hierarchical.py).
#
#   Rscript tools/mclust_hc_reference.R     # writes tests/data/mclust/mclust_hc_pairs.csv
#
# For every data set of tests/data/mclust/datasets.txt (made by
# tools/mclust_reference_data.py): the whole merge sequence of mclust's default start,
# hc(X, modelName = mclust.options("hcModelName"), use = mclust.options("hcUse")) --
# "VVV" on the "SVD"-transformed data -- as its hcPairs: merge s joins the clusters
# labelled i < j (a cluster's label is its smallest row number, from 1). One line a data
# set: the n - 1 pairs as "i j" separated by ";".
# Weights: "<name>*w" is the data set with row i repeated w_i = 1 + (i - 1) %% 3 times,
# clustered from the partition that groups each row's copies (hc's 'partition'
# argument): gmmfast's tree with sample_weight = w. Its labels are the original rows'.

suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
dir <- file.path(here, "..", "tests", "data", "mclust")
stopifnot(mclust.options("hcModelName") == "VVV", mclust.options("hcUse") == "SVD")
rows <- character(0)
for (name in readLines(file.path(dir, "datasets.txt"))) {
  X <- as.matrix(read.csv(file.path(dir, paste0("data_", name, ".csv")), header = FALSE))
  colnames(X) <- NULL
  h <- hc(X, modelName = mclust.options("hcModelName"), use = mclust.options("hcUse"))
  stopifnot(length(unique(attr(h, "initialPartition"))) == nrow(X))
  rows <- c(rows, sprintf("%s,%s", name, paste(h[1, ], h[2, ], collapse = ";")))
}
for (name in c("iris", "gen_VVV")) {
  X <- as.matrix(read.csv(file.path(dir, paste0("data_", name, ".csv")), header = FALSE))
  colnames(X) <- NULL
  w <- 1 + (seq_len(nrow(X)) - 1) %% 3
  copies <- rep(seq_len(nrow(X)), w)
  h <- hc(X[copies, ], modelName = mclust.options("hcModelName"),
          use = mclust.options("hcUse"), partition = copies)
  rows <- c(rows, sprintf("%s*w,%s", name, paste(h[1, ], h[2, ], collapse = ";")))
}
writeLines(c(
  "# Made by: Rscript tools/mclust_hc_reference.R (see the script for the format)",
  sprintf("# mclust %s, %s, %s", packageVersion("mclust"), R.version.string,
          format(Sys.Date())),
  "dataset,pairs", rows), file.path(dir, "mclust_hc_pairs.csv"))
