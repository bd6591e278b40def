# Reference BIC tables from R's mclust for gmmfast's tests (tests/test_mclust_models.py).
#
#   python tools/mclust_reference_data.py     # the data sets, tests/data/mclust/data_*.csv
#   Rscript tools/mclust_reference.R          # this script: tests/data/mclust/mclust_*.csv
#
# For every data set listed in tests/data/mclust/datasets.txt, the 14 models x K = 1..9:
#  - bic_default: mclustBIC(X, G = 1:9, modelNames = <all 14>), mclust's defaults (the
#    hierarchical start on the SVD-transformed data, EM to a relative change of 1e-5);
#  - loglik, bic, icl, n_iter: the same start (hclass of the same hc tree), EM run to a
#    relative change of 1e-11 (emControl(tol = c(1e-11, sqrt(eps)), itmax = c(1e6, 1e5)))
#    so that the optimum is reached to ~1e-10 and can be compared at 1e-6 (n_iter < 0:
#    a cap was hit); K = 1 is mvn(), as mclustBIC computes it; icl = bic +
#    2 sum_i log max_k z_ik (mclust's icl());
#  - the partitions: the hc start for each K (model "hc") and each tight fit's
#    map(z), one digit per row (labels 1..K).
# breast_cancer (30 features whose variances span 1e-9..1e7): without EVE and VVE,
# whose orientation steps crawl there (mclustBIC's EVE ran 4 minutes uncapped, and
# more than 10 with 1000 inner iterations per M-step, without finishing), and its tight
# runs only for K = 1..3.
# BIC is in mclust's sign (2 loglik - npar log n: higher is better); NA where mclust
# could not fit the model.

suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
dir <- file.path(here, "..", "tests", "data", "mclust")
models <- mclust.options("emModelNames")
stopifnot(length(models) == 14)
tight_itmax <- c(1e6, 1e5)
skip_models <- list(breast_cancer = c("EVE", "VVE"))
tight_kmax <- c(breast_cancer = 3)
mvn_name <- function(m) {
  if (m %in% c("EII", "VII")) "XII" else if (substr(m, 3, 3) == "I") "XXI" else "XXX"
}
header <- c(
  "# Made by: Rscript tools/mclust_reference.R (see the script for what each column is)",
  sprintf("# mclust %s, %s, %s", packageVersion("mclust"), R.version.string,
          format(Sys.Date())),
  "# bic in mclust's sign: 2 loglik - npar log n (gmmfast's bic() is its negative)")
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
bic_rows <- character(0)
part_rows <- character(0)
targs <- commandArgs(trailingOnly = TRUE)
names <- if (length(targs)) targs else readLines(file.path(dir, "datasets.txt"))
for (name in names) {
  X <- as.matrix(read.csv(file.path(dir, paste0("data_", name, ".csv")), header = FALSE))
  colnames(X) <- NULL
  n <- nrow(X); d <- ncol(X)
  mine <- setdiff(models, skip_models[[name]])
  tight <- emControl(tol = c(1e-11, sqrt(.Machine$double.eps)), itmax = tight_itmax)
  kmax <- if (name %in% names(tight_kmax)) tight_kmax[[name]] else 9
  B <- mclustBIC(X, G = 1:9, modelNames = mine, verbose = FALSE)
  hcp <- hc(X, modelName = mclust.options("hcModelName"), use = mclust.options("hcUse"))
  hcl <- hclass(hcp, 1:9)
  for (K in 1:9)
    part_rows <- c(part_rows, sprintf("%s,hc,%d,%s", name, K, paste(hcl[, K], collapse = "")))
  for (m in mine) {
    for (K in 1:9) {
      if (K > kmax) {  # mclustBIC's value only
        bic_rows <- c(bic_rows, paste(name, m, K, fmt(B[K, m]), "NA,NA,NA,0", sep = ","))
        next
      }
      if (K == 1) {
        fit <- mvn(modelName = mvn_name(m), data = X)
        z <- matrix(1, n, 1)
        iters <- 0
      } else {
        fit <- suppressWarnings(me(modelName = m, data = X, z = unmap(hcl[, K]),
                                   control = tight, warn = FALSE))
        z <- fit$z
        iters <- attr(fit, "info")[1]
      }
      ll <- fit$loglik
      ok <- !is.null(ll) && !is.na(ll) && all(!is.na(z))
      b <- if (ok) bic(m, ll, n, d, K) else NA
      icl <- if (ok) b + 2 * sum(log(apply(z, 1, max))) else NA
      bic_rows <- c(bic_rows, paste(name, m, K, fmt(B[K, m]), fmt(if (ok) ll else NA),
                                    fmt(b), fmt(icl), iters, sep = ","))
      if (ok)
        part_rows <- c(part_rows, sprintf("%s,%s,%d,%s", name, m, K,
                                          paste(map(z), collapse = "")))
    }
  }
  cat(name, "done", format(Sys.time()), "\n")
}
# the tables hold the data sets of this run (all of datasets.txt by default)
writeLines(c(header, "dataset,model,K,bic_default,loglik,bic,icl,n_iter", bic_rows),
           file.path(dir, "mclust_bic.csv"))
writeLines(c(header, "dataset,model,K,labels", part_rows),
           file.path(dir, "mclust_partitions.csv"))
