//! Queries 1 to 11.

use rask_frame::GroupAgg::{Count, Mean, Min, Sum};
use rask_frame::How::{Cross, Inner, Semi};
use rask_frame::{col, date, days, decimal, lit, months, when, years, Frame, FrameError, Type};

use super::{asc, desc, revenue};
use crate::Tables;

/// Pricing summary report: lines shipped up to 90 days before 1998-12-01, summed per return
/// flag and line status.
pub fn q01(t: &Tables) -> Result<Frame, FrameError> {
    let cutoff = lit(date("1998-12-01")).sub(lit(days(90)));
    let lines = t.table("lineitem")?.filter(col("l_shipdate").lt_eq(cutoff));
    Ok(lines
        .groupby(&["l_returnflag", "l_linestatus"])
        .aggregate(&[
            ("sum_qty", col("l_quantity"), Sum),
            ("sum_base_price", col("l_extendedprice"), Sum),
            ("sum_disc_price", revenue(), Sum),
            ("sum_charge", revenue().mul(lit(1).add(col("l_tax"))), Sum),
            ("avg_qty", col("l_quantity"), Mean),
            ("avg_price", col("l_extendedprice"), Mean),
            ("avg_disc", col("l_discount"), Mean),
            ("count_order", lit(1), Count),
        ])
        .sort_by(&[asc("l_returnflag"), asc("l_linestatus")]))
}

/// Minimum cost supplier: for each size-15 brass part, the European suppliers offering it
/// at the lowest European cost.
pub fn q02(t: &Tables) -> Result<Frame, FrameError> {
    let europe = t.table("region")?.filter(col("r_name").eq(lit("EUROPE")));
    let nations = t.table("nation")?.merge_on(&europe, &["n_regionkey"], &["r_regionkey"], Inner);
    let suppliers = t.table("supplier")?.merge_on(&nations, &["s_nationkey"], &["n_nationkey"], Inner);
    let offers = t.table("partsupp")?.merge_on(&suppliers, &["ps_suppkey"], &["s_suppkey"], Inner);
    let cheapest = offers.groupby(&["ps_partkey"]).aggregate(&[("min_cost", col("ps_supplycost"), Min)]);
    let parts = t.table("part")?.filter(col("p_size").eq(lit(15)).and(col("p_type").like("%BRASS")));
    Ok(parts
        .merge_on(&offers, &["p_partkey"], &["ps_partkey"], Inner)
        .merge_on(&cheapest, &["p_partkey", "ps_supplycost"], &["ps_partkey", "min_cost"], Semi)
        .select(&["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment"])
        .sort_by(&[desc("s_acctbal"), asc("n_name"), asc("s_name"), asc("p_partkey")])
        .limit(100))
}

/// Shipping priority: the 10 unshipped orders of the BUILDING segment with the most revenue.
pub fn q03(t: &Tables) -> Result<Frame, FrameError> {
    let day = || lit(date("1995-03-15"));
    let customers = t.table("customer")?.filter(col("c_mktsegment").eq(lit("BUILDING")));
    let orders = t.table("orders")?.filter(col("o_orderdate").lt(day())).merge_on(
        &customers,
        &["o_custkey"],
        &["c_custkey"],
        Semi,
    );
    let lines = t.table("lineitem")?.filter(col("l_shipdate").gt(day()));
    Ok(lines
        .merge_on(&orders, &["l_orderkey"], &["o_orderkey"], Inner)
        .groupby(&["l_orderkey", "o_orderdate", "o_shippriority"])
        .aggregate(&[("revenue", revenue(), Sum)])
        .select(&["l_orderkey", "revenue", "o_orderdate", "o_shippriority"])
        .sort_by(&[desc("revenue"), asc("o_orderdate")])
        .limit(10))
}

/// Order priority checking: orders of 1993's third quarter with a line received late,
/// counted per priority.
pub fn q04(t: &Tables) -> Result<Frame, FrameError> {
    let start = date("1993-07-01");
    let late = t.table("lineitem")?.filter(col("l_commitdate").lt(col("l_receiptdate")));
    Ok(t.table("orders")?
        .filter(col("o_orderdate").gt_eq(lit(start.clone())).and(col("o_orderdate").lt(lit(start).add(lit(months(3))))))
        .merge_on(&late, &["o_orderkey"], &["l_orderkey"], Semi)
        .groupby(&["o_orderpriority"])
        .aggregate(&[("order_count", lit(1), Count)])
        .sort_by(&[asc("o_orderpriority")]))
}

/// Local supplier volume: 1994 revenue in Asia from customers and suppliers of one nation.
pub fn q05(t: &Tables) -> Result<Frame, FrameError> {
    let start = date("1994-01-01");
    let asia = t.table("region")?.filter(col("r_name").eq(lit("ASIA")));
    let nations = t.table("nation")?.merge_on(&asia, &["n_regionkey"], &["r_regionkey"], Inner);
    let customers = t.table("customer")?.merge_on(&nations, &["c_nationkey"], &["n_nationkey"], Inner);
    let orders = t
        .table("orders")?
        .filter(col("o_orderdate").gt_eq(lit(start.clone())).and(col("o_orderdate").lt(lit(start).add(lit(years(1))))))
        .merge_on(&customers, &["o_custkey"], &["c_custkey"], Inner);
    Ok(t.table("lineitem")?
        .merge_on(&orders, &["l_orderkey"], &["o_orderkey"], Inner)
        .merge_on(&t.table("supplier")?, &["l_suppkey", "c_nationkey"], &["s_suppkey", "s_nationkey"], Inner)
        .groupby(&["n_name"])
        .aggregate(&[("revenue", revenue(), Sum)])
        .sort_by(&[desc("revenue")]))
}

/// Forecasting revenue change: 1994 revenue of discounts between 5% and 7% on small orders.
pub fn q06(t: &Tables) -> Result<Frame, FrameError> {
    let start = date("1994-01-01");
    Ok(t.table("lineitem")?
        .filter(
            col("l_shipdate")
                .gt_eq(lit(start.clone()))
                .and(col("l_shipdate").lt(lit(start).add(lit(years(1)))))
                .and(col("l_discount").between(lit(decimal("0.05")), lit(decimal("0.07"))))
                .and(col("l_quantity").lt(lit(24))),
        )
        .groupby(&[])
        .aggregate(&[("revenue", col("l_extendedprice").mul(col("l_discount")), Sum)]))
}

/// Volume shipping: trade between France and Germany in 1995 and 1996, per direction and year.
pub fn q07(t: &Tables) -> Result<Frame, FrameError> {
    let both = ["FRANCE", "GERMANY"];
    let nations = t.table("nation")?.filter(col("n_name").is_in(both)).select(&["n_nationkey", "n_name"]);
    let named = |key: &str, name: &str| nations.rename(&[("n_nationkey", key), ("n_name", name)]);
    let suppliers = t.table("supplier")?.merge_on(
        &named("supp_nationkey", "supp_nation"),
        &["s_nationkey"],
        &["supp_nationkey"],
        Inner,
    );
    let customers = t.table("customer")?.merge_on(
        &named("cust_nationkey", "cust_nation"),
        &["c_nationkey"],
        &["cust_nationkey"],
        Inner,
    );
    let lines = t
        .table("lineitem")?
        .filter(col("l_shipdate").between(lit(date("1995-01-01")), lit(date("1996-12-31"))))
        .merge_on(&suppliers, &["l_suppkey"], &["s_suppkey"], Inner)
        .merge_on(&t.table("orders")?, &["l_orderkey"], &["o_orderkey"], Inner)
        .merge_on(&customers, &["o_custkey"], &["c_custkey"], Inner);
    Ok(lines
        .filter(col("supp_nation").not_eq(col("cust_nation")))
        .with_column("l_year", col("l_shipdate").year())
        .groupby(&["supp_nation", "cust_nation", "l_year"])
        .aggregate(&[("revenue", revenue(), Sum)])
        .sort_by(&[asc("supp_nation"), asc("cust_nation"), asc("l_year")]))
}

/// National market share: Brazil's share of American revenue for one part type, per year.
pub fn q08(t: &Tables) -> Result<Frame, FrameError> {
    let america = t.table("region")?.filter(col("r_name").eq(lit("AMERICA")));
    let american = t.table("nation")?.merge_on(&america, &["n_regionkey"], &["r_regionkey"], Semi);
    let customers = t.table("customer")?.merge_on(&american, &["c_nationkey"], &["n_nationkey"], Semi);
    let orders = t
        .table("orders")?
        .filter(col("o_orderdate").between(lit(date("1995-01-01")), lit(date("1996-12-31"))))
        .merge_on(&customers, &["o_custkey"], &["c_custkey"], Semi);
    let parts = t.table("part")?.filter(col("p_type").eq(lit("ECONOMY ANODIZED STEEL")));
    let suppliers = t.table("supplier")?.merge_on(&t.table("nation")?, &["s_nationkey"], &["n_nationkey"], Inner);
    Ok(t.table("lineitem")?
        .merge_on(&parts, &["l_partkey"], &["p_partkey"], Semi)
        .merge_on(&orders, &["l_orderkey"], &["o_orderkey"], Inner)
        .merge_on(&suppliers, &["l_suppkey"], &["s_suppkey"], Inner)
        .with_column("o_year", col("o_orderdate").year())
        .with_column("volume", revenue())
        .groupby(&["o_year"])
        .aggregate(&[
            ("brazil", when(col("n_name").eq(lit("BRAZIL"))).then(col("volume")).otherwise(lit(0)), Sum),
            ("total", col("volume"), Sum),
        ])
        .with_column("mkt_share", col("brazil").cast(Type::Float64).div(col("total").cast(Type::Float64)))
        .select(&["o_year", "mkt_share"])
        .sort_by(&[asc("o_year")]))
}

/// Product type profit: profit on green parts per nation and year.
pub fn q09(t: &Tables) -> Result<Frame, FrameError> {
    let green = t.table("part")?.filter(col("p_name").contains("green"));
    let suppliers = t.table("supplier")?.merge_on(&t.table("nation")?, &["s_nationkey"], &["n_nationkey"], Inner);
    Ok(t.table("lineitem")?
        .merge_on(&green, &["l_partkey"], &["p_partkey"], Semi)
        .merge_on(&t.table("partsupp")?, &["l_suppkey", "l_partkey"], &["ps_suppkey", "ps_partkey"], Inner)
        .merge_on(&suppliers, &["l_suppkey"], &["s_suppkey"], Inner)
        .merge_on(&t.table("orders")?, &["l_orderkey"], &["o_orderkey"], Inner)
        .rename(&[("n_name", "nation")])
        .with_column("o_year", col("o_orderdate").year())
        .with_column("amount", revenue().sub(col("ps_supplycost").mul(col("l_quantity"))))
        .groupby(&["nation", "o_year"])
        .aggregate(&[("sum_profit", col("amount"), Sum)])
        .sort_by(&[asc("nation"), desc("o_year")]))
}

/// Returned item reporting: the 20 customers who lost the most revenue to returns in one
/// quarter.
pub fn q10(t: &Tables) -> Result<Frame, FrameError> {
    let start = date("1993-10-01");
    let orders = t.table("orders")?.filter(
        col("o_orderdate").gt_eq(lit(start.clone())).and(col("o_orderdate").lt(lit(start).add(lit(months(3))))),
    );
    let customers = t.table("customer")?.merge_on(&t.table("nation")?, &["c_nationkey"], &["n_nationkey"], Inner);
    Ok(t.table("lineitem")?
        .filter(col("l_returnflag").eq(lit("R")))
        .merge_on(&orders, &["l_orderkey"], &["o_orderkey"], Inner)
        .merge_on(&customers, &["o_custkey"], &["c_custkey"], Inner)
        .groupby(&["o_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"])
        .aggregate(&[("revenue", revenue(), Sum)])
        .rename(&[("o_custkey", "c_custkey")])
        .select(&["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment"])
        .sort_by(&[desc("revenue"), asc("c_custkey")])
        .limit(20))
}

/// Important stock identification: German parts whose stock value exceeds a fraction
/// (0.0001 / SF) of all German stock.
pub fn q11(t: &Tables) -> Result<Frame, FrameError> {
    let germany = t.table("nation")?.filter(col("n_name").eq(lit("GERMANY")));
    let suppliers = t.table("supplier")?.merge_on(&germany, &["s_nationkey"], &["n_nationkey"], Semi);
    let stock = t
        .table("partsupp")?
        .merge_on(&suppliers, &["ps_suppkey"], &["s_suppkey"], Semi)
        .with_column("stock", col("ps_supplycost").mul(col("ps_availqty")));
    let per_part = stock.groupby(&["ps_partkey"]).aggregate(&[("value", col("stock"), Sum)]);
    let total = stock.groupby(&[]).aggregate(&[("total", col("stock"), Sum)]);
    let fraction = 0.0001 / t.scale_factor();
    Ok(per_part
        .merge_on(&total, &[], &[], Cross)
        .filter(col("value").cast(Type::Float64).gt(col("total").cast(Type::Float64).mul(lit(fraction))))
        .select(&["ps_partkey", "value"])
        .sort_by(&[desc("value"), asc("ps_partkey")]))
}
