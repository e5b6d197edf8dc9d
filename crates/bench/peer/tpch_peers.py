"""The peers' side of rask's TPC-H benchmark: the 22 queries on Dask (threads), Polars and
DuckDB, on the Parquet files `rask tpch gen` wrote.

usage: python tpch_peers.py DATA_DIR SF OUT_DIR [ENGINE ...]     (ENGINE: dask, polars, duckdb)

Prints one tab-separated line per query and engine: engine, query, seconds (median of RUNS,
default 3; env TPCH_RUNS), and writes each result as OUT_DIR/ENGINE/qNN.csv (header; dates
ISO; numbers in plain notation) for the answer check. DuckDB runs the specification's query
text (crates/tpch/fixtures/make_answers.py). Dask and Polars read decimals as float64 (Dask's
pandas has no fast decimal; Polars is given the same for a like-for-like table); DuckDB and
rask keep Decimal128.
"""
import csv
import datetime
import decimal
import os
import statistics
import sys
import time

RUNS = int(os.environ.get("TPCH_RUNS", "3"))
HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:
            return ""
        return repr(v) if "e" not in repr(v) else format(decimal.Decimal(v), "f")
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, (datetime.datetime,)):
        return v.date().isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if hasattr(v, "item"):
        return cell(v.item())
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)


def write(path, names, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for row in rows:
            w.writerow([cell(v) for v in row])


def timed(engine, n, run, out):
    times, result = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    names, rows = result
    write(os.path.join(out, engine, f"q{n:02}.csv"), names, rows)
    print(f"{engine}\tq{n:02}\t{statistics.median(times):.6f}", flush=True)


# ---------------------------------------------------------------- DuckDB: the official SQL
def duckdb_engine(data, sf, out):
    import duckdb

    sys.argv = [sys.argv[0], data, out, str(sf)]
    spec = {}
    source = open(os.path.join(HERE, "../../tpch/fixtures/make_answers.py")).read()
    source = source.replace("SF = 0.01", f"SF = {sf}").replace('if __name__ == "__main__":', "if False:")
    exec(source, spec)
    con = duckdb.connect()
    con.execute("PRAGMA threads=2")
    for t in TABLES:
        con.execute(f"create view {t} as select * from read_parquet('{data}/{t}/*.parquet')")
    for n, sql in spec["QUERIES"].items():
        def run(sql=sql):
            cur = con.execute(sql)
            return [d[0] for d in cur.description], cur.fetchall()
        timed("duckdb", n, run, out)


# ---------------------------------------------------------------- Polars (lazy)
def polars_engine(data, sf, out):
    import polars as pl

    def t(name):
        return pl.scan_parquet(f"{data}/{name}/*.parquet").with_columns(pl.col(pl.Decimal).cast(pl.Float64))

    c = pl.col
    d = lambda s: datetime.date.fromisoformat(s)
    rev = c("l_extendedprice") * (1 - c("l_discount"))
    region, nation, supplier, customer, part, partsupp, orders, lineitem = (t(x) for x in TABLES)

    def q1():
        return (lineitem.filter(c("l_shipdate") <= d("1998-09-02")).group_by("l_returnflag", "l_linestatus").agg(
            c("l_quantity").sum().alias("sum_qty"), c("l_extendedprice").sum().alias("sum_base_price"),
            rev.sum().alias("sum_disc_price"), (rev * (1 + c("l_tax"))).sum().alias("sum_charge"),
            c("l_quantity").mean().alias("avg_qty"), c("l_extendedprice").mean().alias("avg_price"),
            c("l_discount").mean().alias("avg_disc"), pl.len().alias("count_order")).sort("l_returnflag", "l_linestatus"))

    def q2():
        eu = (partsupp.join(supplier, left_on="ps_suppkey", right_on="s_suppkey").join(nation, left_on="s_nationkey", right_on="n_nationkey")
              .join(region.filter(c("r_name") == "EUROPE"), left_on="n_regionkey", right_on="r_regionkey"))
        p = part.filter((c("p_size") == 15) & c("p_type").str.ends_with("BRASS"))
        j = p.join(eu, left_on="p_partkey", right_on="ps_partkey")
        return (j.filter(c("ps_supplycost") == c("ps_supplycost").min().over("p_partkey"))
                .select("s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment")
                .sort(["s_acctbal", "n_name", "s_name", "p_partkey"], descending=[True, False, False, False]).head(100))

    def q3():
        cu = customer.filter(c("c_mktsegment") == "BUILDING")
        o = orders.filter(c("o_orderdate") < d("1995-03-15"))
        l = lineitem.filter(c("l_shipdate") > d("1995-03-15"))
        return (cu.join(o, left_on="c_custkey", right_on="o_custkey").join(l, left_on="o_orderkey", right_on="l_orderkey")
                .group_by("o_orderkey", "o_orderdate", "o_shippriority").agg(rev.sum().alias("revenue"))
                .select(c("o_orderkey").alias("l_orderkey"), "revenue", "o_orderdate", "o_shippriority")
                .sort(["revenue", "o_orderdate"], descending=[True, False]).head(10))

    def q4():
        late = lineitem.filter(c("l_commitdate") < c("l_receiptdate"))
        o = orders.filter((c("o_orderdate") >= d("1993-07-01")) & (c("o_orderdate") < d("1993-10-01")))
        return (o.join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi").group_by("o_orderpriority")
                .agg(pl.len().alias("order_count")).sort("o_orderpriority"))

    def q5():
        o = orders.filter((c("o_orderdate") >= d("1994-01-01")) & (c("o_orderdate") < d("1995-01-01")))
        j = (region.filter(c("r_name") == "ASIA").join(nation, left_on="r_regionkey", right_on="n_regionkey")
             .join(customer, left_on="n_nationkey", right_on="c_nationkey").join(o, left_on="c_custkey", right_on="o_custkey")
             .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
             .join(supplier, left_on=["l_suppkey", "n_nationkey"], right_on=["s_suppkey", "s_nationkey"]))
        return j.group_by("n_name").agg(rev.sum().alias("revenue")).sort("revenue", descending=True)

    def q6():
        return (lineitem.filter((c("l_shipdate") >= d("1994-01-01")) & (c("l_shipdate") < d("1995-01-01"))
                                & c("l_discount").is_between(0.05, 0.07) & (c("l_quantity") < 24))
                .select((c("l_extendedprice") * c("l_discount")).sum().alias("revenue")))

    def q7():
        n1 = nation.select(c("n_nationkey").alias("sn"), c("n_name").alias("supp_nation"))
        n2 = nation.select(c("n_nationkey").alias("cn"), c("n_name").alias("cust_nation"))
        l = lineitem.filter(c("l_shipdate").is_between(d("1995-01-01"), d("1996-12-31")))
        j = (l.join(supplier, left_on="l_suppkey", right_on="s_suppkey").join(orders, left_on="l_orderkey", right_on="o_orderkey")
             .join(customer, left_on="o_custkey", right_on="c_custkey").join(n1, left_on="s_nationkey", right_on="sn")
             .join(n2, left_on="c_nationkey", right_on="cn")
             .filter(((c("supp_nation") == "FRANCE") & (c("cust_nation") == "GERMANY")) | ((c("supp_nation") == "GERMANY") & (c("cust_nation") == "FRANCE"))))
        return (j.with_columns(c("l_shipdate").dt.year().alias("l_year")).group_by("supp_nation", "cust_nation", "l_year")
                .agg(rev.sum().alias("revenue")).sort("supp_nation", "cust_nation", "l_year"))

    def q8():
        n1 = nation.join(region.filter(c("r_name") == "AMERICA"), left_on="n_regionkey", right_on="r_regionkey").select("n_nationkey")
        n2 = nation.select(c("n_nationkey").alias("n2key"), c("n_name").alias("nation"))
        j = (part.filter(c("p_type") == "ECONOMY ANODIZED STEEL").join(lineitem, left_on="p_partkey", right_on="l_partkey")
             .join(supplier, left_on="l_suppkey", right_on="s_suppkey")
             .join(orders.filter(c("o_orderdate").is_between(d("1995-01-01"), d("1996-12-31"))), left_on="l_orderkey", right_on="o_orderkey")
             .join(customer, left_on="o_custkey", right_on="c_custkey").join(n1, left_on="c_nationkey", right_on="n_nationkey")
             .join(n2, left_on="s_nationkey", right_on="n2key"))
        return (j.with_columns(c("o_orderdate").dt.year().alias("o_year"), rev.alias("volume")).group_by("o_year")
                .agg((pl.when(c("nation") == "BRAZIL").then(c("volume")).otherwise(0).sum() / c("volume").sum()).alias("mkt_share"))
                .sort("o_year"))

    def q9():
        j = (part.filter(c("p_name").str.contains("green", literal=True)).join(lineitem, left_on="p_partkey", right_on="l_partkey")
             .join(partsupp, left_on=["l_suppkey", "p_partkey"], right_on=["ps_suppkey", "ps_partkey"])
             .join(supplier, left_on="l_suppkey", right_on="s_suppkey").join(orders, left_on="l_orderkey", right_on="o_orderkey")
             .join(nation, left_on="s_nationkey", right_on="n_nationkey"))
        return (j.select(c("n_name").alias("nation"), c("o_orderdate").dt.year().alias("o_year"),
                         (rev - c("ps_supplycost") * c("l_quantity")).alias("amount"))
                .group_by("nation", "o_year").agg(c("amount").sum().alias("sum_profit")).sort(["nation", "o_year"], descending=[False, True]))

    def q10():
        o = orders.filter((c("o_orderdate") >= d("1993-10-01")) & (c("o_orderdate") < d("1994-01-01")))
        j = (customer.join(o, left_on="c_custkey", right_on="o_custkey").join(lineitem.filter(c("l_returnflag") == "R"), left_on="o_orderkey", right_on="l_orderkey")
             .join(nation, left_on="c_nationkey", right_on="n_nationkey"))
        return (j.group_by("c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment").agg(rev.sum().alias("revenue"))
                .select("c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment")
                .sort(["revenue", "c_custkey"], descending=[True, False]).head(20))

    def q11():
        j = (partsupp.join(supplier, left_on="ps_suppkey", right_on="s_suppkey")
             .join(nation.filter(c("n_name") == "GERMANY"), left_on="s_nationkey", right_on="n_nationkey")
             .with_columns((c("ps_supplycost") * c("ps_availqty")).alias("value")))
        total = j.select((c("value").sum() * (0.0001 / sf)).alias("threshold"))
        return (j.group_by("ps_partkey").agg(c("value").sum()).join(total, how="cross").filter(c("value") > c("threshold"))
                .select("ps_partkey", "value").sort(["value", "ps_partkey"], descending=[True, False]))

    def q12():
        l = lineitem.filter(c("l_shipmode").is_in(["MAIL", "SHIP"]) & (c("l_commitdate") < c("l_receiptdate"))
                            & (c("l_shipdate") < c("l_commitdate")) & (c("l_receiptdate") >= d("1994-01-01")) & (c("l_receiptdate") < d("1995-01-01")))
        high = c("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
        return (orders.join(l, left_on="o_orderkey", right_on="l_orderkey").group_by("l_shipmode")
                .agg(pl.when(high).then(1).otherwise(0).sum().alias("high_line_count"), pl.when(high).then(0).otherwise(1).sum().alias("low_line_count"))
                .sort("l_shipmode"))

    def q13():
        o = orders.filter(~c("o_comment").str.contains("special.*requests"))
        return (customer.join(o, left_on="c_custkey", right_on="o_custkey", how="left").group_by("c_custkey")
                .agg(c("o_orderkey").count().alias("c_count")).group_by("c_count").agg(pl.len().alias("custdist"))
                .sort(["custdist", "c_count"], descending=[True, True]))

    def q14():
        j = lineitem.filter((c("l_shipdate") >= d("1995-09-01")) & (c("l_shipdate") < d("1995-10-01"))).join(part, left_on="l_partkey", right_on="p_partkey")
        return j.select((100.0 * pl.when(c("p_type").str.starts_with("PROMO")).then(rev).otherwise(0).sum() / rev.sum()).alias("promo_revenue"))

    def q15():
        r = (lineitem.filter((c("l_shipdate") >= d("1996-01-01")) & (c("l_shipdate") < d("1996-04-01"))).group_by("l_suppkey")
             .agg(rev.sum().alias("total_revenue")))
        return (supplier.join(r, left_on="s_suppkey", right_on="l_suppkey").filter(c("total_revenue") == c("total_revenue").max())
                .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue").sort("s_suppkey"))

    def q16():
        bad = supplier.filter(c("s_comment").str.contains("Customer.*Complaints")).select("s_suppkey")
        p = part.filter((c("p_brand") != "Brand#45") & ~c("p_type").str.starts_with("MEDIUM POLISHED") & c("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9]))
        return (partsupp.join(bad, left_on="ps_suppkey", right_on="s_suppkey", how="anti").join(p, left_on="ps_partkey", right_on="p_partkey")
                .group_by("p_brand", "p_type", "p_size").agg(c("ps_suppkey").n_unique().alias("supplier_cnt"))
                .sort(["supplier_cnt", "p_brand", "p_type", "p_size"], descending=[True, False, False, False]))

    def q17():
        p = part.filter((c("p_brand") == "Brand#23") & (c("p_container") == "MED BOX"))
        j = p.join(lineitem, left_on="p_partkey", right_on="l_partkey")
        return (j.filter(c("l_quantity") < 0.2 * c("l_quantity").mean().over("p_partkey"))
                .select((c("l_extendedprice").sum() / 7.0).alias("avg_yearly")))

    def q18():
        big = lineitem.group_by("l_orderkey").agg(c("l_quantity").sum().alias("q")).filter(c("q") > 300).select("l_orderkey")
        j = (orders.join(big, left_on="o_orderkey", right_on="l_orderkey", how="semi").join(customer, left_on="o_custkey", right_on="c_custkey")
             .join(lineitem, left_on="o_orderkey", right_on="l_orderkey"))
        return (j.group_by("c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice").agg(c("l_quantity").sum().alias("sum_qty"))
                .select("c_name", c("o_custkey").alias("c_custkey"), "o_orderkey", "o_orderdate", "o_totalprice", "sum_qty")
                .sort(["o_totalprice", "o_orderdate", "o_orderkey"], descending=[True, False, False]).head(100))

    def q19():
        j = (lineitem.filter(c("l_shipmode").is_in(["AIR", "AIR REG"]) & (c("l_shipinstruct") == "DELIVER IN PERSON"))
             .join(part, left_on="l_partkey", right_on="p_partkey"))
        def case(brand, containers, lo, size):
            return ((c("p_brand") == brand) & c("p_container").is_in(containers) & c("l_quantity").is_between(lo, lo + 10) & c("p_size").is_between(1, size))
        f = case("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5) | case("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10) | case("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
        return j.filter(f).select(rev.sum().alias("revenue"))

    def q20():
        forest = part.filter(c("p_name").str.starts_with("forest")).select("p_partkey")
        shipped = (lineitem.filter((c("l_shipdate") >= d("1994-01-01")) & (c("l_shipdate") < d("1995-01-01"))).group_by("l_partkey", "l_suppkey")
                   .agg((0.5 * c("l_quantity").sum()).alias("half")))
        ps = (partsupp.join(forest, left_on="ps_partkey", right_on="p_partkey", how="semi")
              .join(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"]).filter(c("ps_availqty") > c("half")))
        return (supplier.join(nation.filter(c("n_name") == "CANADA"), left_on="s_nationkey", right_on="n_nationkey", how="semi")
                .join(ps, left_on="s_suppkey", right_on="ps_suppkey", how="semi").select("s_name", "s_address").sort("s_name"))

    def q21():
        l = lineitem.select("l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate")
        late = l.filter(c("l_receiptdate") > c("l_commitdate"))
        multi = l.group_by("l_orderkey").agg(c("l_suppkey").n_unique().alias("n")).filter(c("n") > 1).select("l_orderkey")
        alone = late.group_by("l_orderkey").agg(c("l_suppkey").n_unique().alias("n")).filter(c("n") == 1).select("l_orderkey")
        s = supplier.join(nation.filter(c("n_name") == "SAUDI ARABIA"), left_on="s_nationkey", right_on="n_nationkey", how="semi")
        j = (late.join(s, left_on="l_suppkey", right_on="s_suppkey").join(orders.filter(c("o_orderstatus") == "F"), left_on="l_orderkey", right_on="o_orderkey", how="semi")
             .join(multi, on="l_orderkey", how="semi").join(alone, on="l_orderkey", how="semi"))
        return j.group_by("s_name").agg(pl.len().alias("numwait")).sort(["numwait", "s_name"], descending=[True, False]).head(100)

    def q22():
        codes = ["13", "31", "23", "29", "30", "18", "17"]
        cu = customer.with_columns(c("c_phone").str.slice(0, 2).alias("cntrycode")).filter(c("cntrycode").is_in(codes))
        avg = cu.filter(c("c_acctbal") > 0.0).select(c("c_acctbal").mean().alias("avg_bal"))
        return (cu.join(avg, how="cross").filter(c("c_acctbal") > c("avg_bal")).join(orders, left_on="c_custkey", right_on="o_custkey", how="anti")
                .group_by("cntrycode").agg(pl.len().alias("numcust"), c("c_acctbal").sum().alias("totacctbal")).sort("cntrycode"))

    queries = [q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13, q14, q15, q16, q17, q18, q19, q20, q21, q22]
    for n, q in enumerate(queries, 1):
        def run(q=q):
            df = q().collect()
            return df.columns, df.rows()
        timed("polars", n, run, out)


# ---------------------------------------------------------------- Dask (threads)
def dask_engine(data, sf, out):
    import dask
    import dask.dataframe as dd
    import pandas as pd

    dask.config.set(scheduler="threads", num_workers=2)

    def t(name):
        df = dd.read_parquet(f"{data}/{name}/*.parquet")
        # Decimals as float64 (pandas has no fast decimal); dates stay Arrow dates.
        casts = {c: "float64" for c, dt in df.dtypes.items() if "decimal" in str(dt).lower()}
        return df.astype(casts) if casts else df

    D = datetime.date.fromisoformat
    region, nation, supplier, customer, part, partsupp, orders, lineitem = (t(x) for x in TABLES)

    def rev(df):
        return df.l_extendedprice * (1 - df.l_discount)

    def q1():
        l = lineitem[lineitem.l_shipdate <= D("1998-09-02")]
        l = l.assign(disc_price=rev(l), charge=rev(l) * (1 + l.l_tax))
        g = l.groupby(["l_returnflag", "l_linestatus"]).agg(
            sum_qty=("l_quantity", "sum"), sum_base_price=("l_extendedprice", "sum"), sum_disc_price=("disc_price", "sum"),
            sum_charge=("charge", "sum"), avg_qty=("l_quantity", "mean"), avg_price=("l_extendedprice", "mean"),
            avg_disc=("l_discount", "mean"), count_order=("l_orderkey", "size"))
        return g.compute().reset_index().sort_values(["l_returnflag", "l_linestatus"])

    def q2():
        eu = region[region.r_name == "EUROPE"].merge(nation, left_on="r_regionkey", right_on="n_regionkey").merge(supplier, left_on="n_nationkey", right_on="s_nationkey")
        ps = partsupp.merge(eu, left_on="ps_suppkey", right_on="s_suppkey")
        p = part[(part.p_size == 15) & part.p_type.str.endswith("BRASS")]
        j = p.merge(ps, left_on="p_partkey", right_on="ps_partkey").compute()
        j = j[j.ps_supplycost == j.groupby("p_partkey").ps_supplycost.transform("min")]
        cols = ["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment"]
        return j[cols].sort_values(["s_acctbal", "n_name", "s_name", "p_partkey"], ascending=[False, True, True, True]).head(100)

    def q3():
        cu = customer[customer.c_mktsegment == "BUILDING"]
        o = orders[orders.o_orderdate < D("1995-03-15")]
        l = lineitem[lineitem.l_shipdate > D("1995-03-15")]
        j = cu.merge(o, left_on="c_custkey", right_on="o_custkey").merge(l, left_on="o_orderkey", right_on="l_orderkey")
        j = j.assign(revenue=rev(j))
        g = j.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).revenue.sum().reset_index()
        return g.compute().sort_values(["revenue", "o_orderdate"], ascending=[False, True]).head(10)[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]]

    def q4():
        late = lineitem[lineitem.l_commitdate < lineitem.l_receiptdate][["l_orderkey"]].drop_duplicates()
        o = orders[(orders.o_orderdate >= D("1993-07-01")) & (orders.o_orderdate < D("1993-10-01"))]
        j = o.merge(late, left_on="o_orderkey", right_on="l_orderkey")
        return j.groupby("o_orderpriority").o_orderkey.count().rename("order_count").compute().reset_index().sort_values("o_orderpriority")

    def q5():
        o = orders[(orders.o_orderdate >= D("1994-01-01")) & (orders.o_orderdate < D("1995-01-01"))]
        j = (region[region.r_name == "ASIA"].merge(nation, left_on="r_regionkey", right_on="n_regionkey")
             .merge(customer, left_on="n_nationkey", right_on="c_nationkey").merge(o, left_on="c_custkey", right_on="o_custkey")
             .merge(lineitem, left_on="o_orderkey", right_on="l_orderkey")
             .merge(supplier, left_on=["l_suppkey", "n_nationkey"], right_on=["s_suppkey", "s_nationkey"]))
        j = j.assign(revenue=rev(j))
        return j.groupby("n_name").revenue.sum().compute().reset_index().sort_values("revenue", ascending=False)

    def q6():
        l = lineitem
        l = l[(l.l_shipdate >= D("1994-01-01")) & (l.l_shipdate < D("1995-01-01")) & (l.l_discount >= 0.05 - 1e-9) & (l.l_discount <= 0.07 + 1e-9) & (l.l_quantity < 24)]
        return pd.DataFrame({"revenue": [(l.l_extendedprice * l.l_discount).sum().compute()]})

    def q7():
        n = nation[nation.n_name.isin(["FRANCE", "GERMANY"])]
        s = supplier.merge(n, left_on="s_nationkey", right_on="n_nationkey")[["s_suppkey", "n_name"]].rename(columns={"n_name": "supp_nation"})
        c = customer.merge(n, left_on="c_nationkey", right_on="n_nationkey")[["c_custkey", "n_name"]].rename(columns={"n_name": "cust_nation"})
        l = lineitem[(lineitem.l_shipdate >= D("1995-01-01")) & (lineitem.l_shipdate <= D("1996-12-31"))]
        j = l.merge(s, left_on="l_suppkey", right_on="s_suppkey").merge(orders, left_on="l_orderkey", right_on="o_orderkey").merge(c, left_on="o_custkey", right_on="c_custkey")
        j = j[j.supp_nation != j.cust_nation]
        j = j.assign(l_year=j.l_shipdate.dt.year, revenue=rev(j))
        return j.groupby(["supp_nation", "cust_nation", "l_year"]).revenue.sum().compute().reset_index().sort_values(["supp_nation", "cust_nation", "l_year"])

    def q8():
        am = nation.merge(region[region.r_name == "AMERICA"], left_on="n_regionkey", right_on="r_regionkey")[["n_nationkey"]]
        c = customer.merge(am, left_on="c_nationkey", right_on="n_nationkey")[["c_custkey"]]
        o = orders[(orders.o_orderdate >= D("1995-01-01")) & (orders.o_orderdate <= D("1996-12-31"))].merge(c, left_on="o_custkey", right_on="c_custkey")
        p = part[part.p_type == "ECONOMY ANODIZED STEEL"][["p_partkey"]]
        s = supplier.merge(nation, left_on="s_nationkey", right_on="n_nationkey")[["s_suppkey", "n_name"]]
        j = lineitem.merge(p, left_on="l_partkey", right_on="p_partkey").merge(o, left_on="l_orderkey", right_on="o_orderkey").merge(s, left_on="l_suppkey", right_on="s_suppkey")
        j = j.assign(o_year=j.o_orderdate.dt.year, volume=rev(j))
        j = j.assign(brazil=j.volume.where(j.n_name == "BRAZIL", 0.0))
        g = j.groupby("o_year")[["brazil", "volume"]].sum().compute()
        return pd.DataFrame({"o_year": g.index, "mkt_share": (g.brazil / g.volume).values}).sort_values("o_year")

    def q9():
        p = part[part.p_name.str.contains("green", regex=False)][["p_partkey"]]
        s = supplier.merge(nation, left_on="s_nationkey", right_on="n_nationkey")[["s_suppkey", "n_name"]]
        j = (lineitem.merge(p, left_on="l_partkey", right_on="p_partkey").merge(partsupp, left_on=["l_suppkey", "l_partkey"], right_on=["ps_suppkey", "ps_partkey"])
             .merge(s, left_on="l_suppkey", right_on="s_suppkey").merge(orders, left_on="l_orderkey", right_on="o_orderkey"))
        j = j.assign(nation=j.n_name, o_year=j.o_orderdate.dt.year, amount=rev(j) - j.ps_supplycost * j.l_quantity)
        g = j.groupby(["nation", "o_year"]).amount.sum().rename("sum_profit").compute().reset_index()
        return g.sort_values(["nation", "o_year"], ascending=[True, False])

    def q10():
        o = orders[(orders.o_orderdate >= D("1993-10-01")) & (orders.o_orderdate < D("1994-01-01"))]
        j = (customer.merge(o, left_on="c_custkey", right_on="o_custkey").merge(lineitem[lineitem.l_returnflag == "R"], left_on="o_orderkey", right_on="l_orderkey")
             .merge(nation, left_on="c_nationkey", right_on="n_nationkey"))
        j = j.assign(revenue=rev(j))
        g = j.groupby(["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]).revenue.sum().compute().reset_index()
        g = g.sort_values(["revenue", "c_custkey"], ascending=[False, True]).head(20)
        return g[["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment"]]

    def q11():
        s = supplier.merge(nation[nation.n_name == "GERMANY"], left_on="s_nationkey", right_on="n_nationkey")[["s_suppkey"]]
        j = partsupp.merge(s, left_on="ps_suppkey", right_on="s_suppkey")
        j = j.assign(value=j.ps_supplycost * j.ps_availqty)
        g, total = dask.compute(j.groupby("ps_partkey").value.sum(), j.value.sum())
        g = g.reset_index()
        return g[g.value > total * (0.0001 / sf)].sort_values(["value", "ps_partkey"], ascending=[False, True])

    def q12():
        l = lineitem
        l = l[l.l_shipmode.isin(["MAIL", "SHIP"]) & (l.l_commitdate < l.l_receiptdate) & (l.l_shipdate < l.l_commitdate) & (l.l_receiptdate >= D("1994-01-01")) & (l.l_receiptdate < D("1995-01-01"))]
        j = l.merge(orders, left_on="l_orderkey", right_on="o_orderkey")
        high = j.o_orderpriority.isin(["1-URGENT", "2-HIGH"])
        j = j.assign(high_line_count=high.astype("int64"), low_line_count=(~high).astype("int64"))
        return j.groupby("l_shipmode")[["high_line_count", "low_line_count"]].sum().compute().reset_index().sort_values("l_shipmode")

    def q13():
        o = orders[~orders.o_comment.str.contains("special.*requests")]
        j = customer[["c_custkey"]].merge(o, left_on="c_custkey", right_on="o_custkey", how="left")
        c = j.groupby("c_custkey").o_orderkey.count().rename("c_count").reset_index()
        g = c.groupby("c_count").c_custkey.count().rename("custdist").compute().reset_index()
        return g.sort_values(["custdist", "c_count"], ascending=[False, False])

    def q14():
        l = lineitem[(lineitem.l_shipdate >= D("1995-09-01")) & (lineitem.l_shipdate < D("1995-10-01"))]
        j = l.merge(part, left_on="l_partkey", right_on="p_partkey")
        r = rev(j)
        promo, total = dask.compute(r.where(j.p_type.str.startswith("PROMO"), 0.0).sum(), r.sum())
        return pd.DataFrame({"promo_revenue": [100.0 * promo / total]})

    def q15():
        l = lineitem[(lineitem.l_shipdate >= D("1996-01-01")) & (lineitem.l_shipdate < D("1996-04-01"))]
        r = l.assign(total_revenue=rev(l)).groupby("l_suppkey").total_revenue.sum().compute().reset_index()
        r = r[r.total_revenue == r.total_revenue.max()]
        j = supplier.compute().merge(r, left_on="s_suppkey", right_on="l_suppkey")
        return j[["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"]].sort_values("s_suppkey")

    def q16():
        bad = supplier[supplier.s_comment.str.contains("Customer.*Complaints")].s_suppkey.compute()
        p = part[(part.p_brand != "Brand#45") & ~part.p_type.str.startswith("MEDIUM POLISHED") & part.p_size.isin([49, 14, 23, 45, 19, 3, 36, 9])]
        j = partsupp[~partsupp.ps_suppkey.isin(list(bad))].merge(p, left_on="ps_partkey", right_on="p_partkey")
        g = j.groupby(["p_brand", "p_type", "p_size"]).ps_suppkey.nunique().rename("supplier_cnt").compute().reset_index()
        return g.sort_values(["supplier_cnt", "p_brand", "p_type", "p_size"], ascending=[False, True, True, True])

    def q17():
        p = part[(part.p_brand == "Brand#23") & (part.p_container == "MED BOX")][["p_partkey"]]
        j = lineitem.merge(p, left_on="l_partkey", right_on="p_partkey")
        avg = j.groupby("l_partkey").l_quantity.mean().rename("avg_qty").reset_index()
        j = j.merge(avg, on="l_partkey")
        total = j[j.l_quantity < 0.2 * j.avg_qty].l_extendedprice.sum().compute()
        return pd.DataFrame({"avg_yearly": [total / 7.0 if total else None]})

    def q18():
        big = lineitem.groupby("l_orderkey").l_quantity.sum().reset_index()
        big = big[big.l_quantity > 300][["l_orderkey"]]
        o = orders.merge(big, left_on="o_orderkey", right_on="l_orderkey")[["o_orderkey", "o_custkey", "o_orderdate", "o_totalprice"]]
        j = o.merge(customer, left_on="o_custkey", right_on="c_custkey").merge(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        g = j.groupby(["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]).l_quantity.sum().rename("sum_qty").compute().reset_index()
        return g.sort_values(["o_totalprice", "o_orderdate", "o_orderkey"], ascending=[False, True, True]).head(100)

    def q19():
        l = lineitem[lineitem.l_shipmode.isin(["AIR", "AIR REG"]) & (lineitem.l_shipinstruct == "DELIVER IN PERSON")]
        j = l.merge(part, left_on="l_partkey", right_on="p_partkey")
        def case(brand, containers, lo, size):
            return (j.p_brand == brand) & j.p_container.isin(containers) & (j.l_quantity >= lo) & (j.l_quantity <= lo + 10) & (j.p_size >= 1) & (j.p_size <= size)
        f = case("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5) | case("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10) | case("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
        return pd.DataFrame({"revenue": [rev(j[f]).sum().compute()]})

    def q20():
        forest = part[part.p_name.str.startswith("forest")][["p_partkey"]]
        l = lineitem[(lineitem.l_shipdate >= D("1994-01-01")) & (lineitem.l_shipdate < D("1995-01-01"))]
        shipped = l.groupby(["l_partkey", "l_suppkey"]).l_quantity.sum().reset_index()
        ps = partsupp.merge(forest, left_on="ps_partkey", right_on="p_partkey").merge(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"])
        keys = ps[ps.ps_availqty > 0.5 * ps.l_quantity].ps_suppkey.drop_duplicates().compute()
        s = supplier.merge(nation[nation.n_name == "CANADA"], left_on="s_nationkey", right_on="n_nationkey")
        s = s[s.s_suppkey.isin(list(keys))]
        return s[["s_name", "s_address"]].compute().sort_values("s_name")

    def q21():
        l = lineitem[["l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate"]]
        late = l[l.l_receiptdate > l.l_commitdate]
        multi = l.groupby("l_orderkey").l_suppkey.nunique().rename("n").reset_index()
        alone = late.groupby("l_orderkey").l_suppkey.nunique().rename("m").reset_index()
        s = supplier.merge(nation[nation.n_name == "SAUDI ARABIA"], left_on="s_nationkey", right_on="n_nationkey")[["s_suppkey", "s_name"]]
        f = orders[orders.o_orderstatus == "F"][["o_orderkey"]]
        j = (late.merge(s, left_on="l_suppkey", right_on="s_suppkey").merge(f, left_on="l_orderkey", right_on="o_orderkey")
             .merge(multi[multi.n > 1], on="l_orderkey").merge(alone[alone.m == 1], on="l_orderkey"))
        g = j.groupby("s_name").l_orderkey.count().rename("numwait").compute().reset_index()
        return g.sort_values(["numwait", "s_name"], ascending=[False, True]).head(100)

    def q22():
        codes = ["13", "31", "23", "29", "30", "18", "17"]
        cu = customer.assign(cntrycode=customer.c_phone.str.slice(0, 2))
        cu = cu[cu.cntrycode.isin(codes)]
        avg = cu[cu.c_acctbal > 0.0].c_acctbal.mean().compute()
        cu = cu[cu.c_acctbal > avg]
        buyers = orders.o_custkey.drop_duplicates().compute()
        cu = cu[~cu.c_custkey.isin(list(buyers))]
        g = cu.groupby("cntrycode").agg(numcust=("c_custkey", "count"), totacctbal=("c_acctbal", "sum")).compute().reset_index()
        return g.sort_values("cntrycode")

    queries = [q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13, q14, q15, q16, q17, q18, q19, q20, q21, q22]
    for n, q in enumerate(queries, 1):
        def run(q=q):
            df = q()
            return list(df.columns), [tuple(r) for r in df.itertuples(index=False)]
        try:
            timed("dask-threads", n, run, out)
        except Exception as e:  # a peer's failure is reported, not fatal to the table
            print(f"dask-threads\tq{n:02}\tfailed: {type(e).__name__}: {str(e)[:80]}", flush=True)


def main():
    data, sf, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    engines = sys.argv[4:] or ["duckdb", "polars", "dask"]
    for e in engines:
        {"duckdb": duckdb_engine, "polars": polars_engine, "dask": dask_engine}[e](data, sf, out)


if __name__ == "__main__":
    main()
