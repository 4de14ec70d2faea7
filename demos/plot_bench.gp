# Plots for docs/BENCHMARKS.md; run through demos/bench_plot.sh, which sets dir and out.
set terminal pngcairo size 900,560 font ",11" noenhanced
set grid ytics
set key outside right top
set logscale y
set xtics (1, 2, 4)
set xlabel "workers (processes or threads; this machine has 2 cores)"
set ylabel "seconds (median, bars: min..max)"

do for [wl in "heavy primes"] {
    set output sprintf("%s/%s_scaling.png", out, wl)
    set title (wl eq "heavy" ? "heavy_function, 40M doubles in 4 chunks: time vs workers" \
                             : "prime factors of 100 numbers in [1e10, 1e12]: time vs workers")
    set xrange [0.7:4.5]
    plot for [impl in "shmpool openmp python_pool joblib serial"] \
         sprintf("%s/%s_%s.dat", dir, wl, impl) using 1:2:3:4 with yerrorlines lw 2 title impl
}

set output sprintf("%s/speedup.png", out)
set title "shmpool's speed-up over each alternative (time per item, 2 workers; log scale)"
unset xlabel
set ylabel "times faster (> 1: shmpool faster)"
set xrange [*:*]
set xtics rotate by -45 font ",9"
set style fill solid 0.8
set boxwidth 0.7
unset key
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot sprintf("%s/speedup.dat", dir) using 0:2:xtic(1) with boxes lc rgb "#4477aa", \
     "" using 0:2:(sprintf("%.3g", $2)) with labels offset 0,0.7 font ",9"
