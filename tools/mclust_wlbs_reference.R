# mclust's weighted likelihood bootstrap on iris, for gmmfast's tests (tests/test_bootstrap.py).
#
#   Rscript tools/mclust_wlbs_reference.R   # writes tests/data/mclust/mclust_wlbs_iris.csv
#
# Mclust(iris, G = 2, modelNames = "VEV") (mclust's best model of iris), then
# MclustBootstrap(fit, nboot = 999, type = "wlbs") and summary(boot, what = "se"): the
# standard errors of the proportions, the means and the covariances. One row a
# parameter: name (pro, mean, sigma), component k, row i and column j (from 1; 0 where
# the parameter has no such index), the fitted value and its standard error.

suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
dir <- file.path(here, "..", "tests", "data", "mclust")
X <- as.matrix(read.csv(file.path(dir, "data_iris.csv"), header = FALSE))
colnames(X) <- NULL
fit <- Mclust(X, G = 2, modelNames = "VEV", verbose = FALSE)
set.seed(0)
boot <- MclustBootstrap(fit, nboot = 999, type = "wlbs", verbose = FALSE)
se <- summary(boot, what = "se")
fmt <- function(x) sprintf("%.17g", x)
rows <- character(0)
d <- ncol(X)
for (k in 1:2) {
  rows <- c(rows, paste("pro", k, 0, 0, fmt(fit$parameters$pro[k]), fmt(se$pro[k]), sep = ","))
  for (i in 1:d)
    rows <- c(rows, paste("mean", k, i, 0, fmt(fit$parameters$mean[i, k]),
                          fmt(se$mean[i, k]), sep = ","))
  for (i in 1:d) for (j in 1:d)
    rows <- c(rows, paste("sigma", k, i, j, fmt(fit$parameters$variance$sigma[i, j, k]),
                          fmt(se$variance[i, j, k]), sep = ","))
}
writeLines(c(
  "# Made by: Rscript tools/mclust_wlbs_reference.R (see the script for the columns)",
  sprintf("# mclust %s, %s, %s; nboot = 999, nonfit = %d", packageVersion("mclust"),
          R.version.string, format(Sys.Date()), boot$nonfit),
  "parameter,k,i,j,value,se", rows), file.path(dir, "mclust_wlbs_iris.csv"))
