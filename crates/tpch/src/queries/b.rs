//! Queries 12 to 22.

use rask_frame::GroupAgg::{Count, Max, Mean, Sum};
use rask_frame::How::{Anti, Cross, Inner, Left, Semi};
use rask_frame::{col, date, decimal, lit, months, when, years, Expr, Frame, FrameError, Lit, Type};

use super::{asc, desc, revenue};
use crate::Tables;

/// `column` in `[start, start + span)`.
fn within(column: &str, start: &str, span: Lit) -> Expr {
    col(column).gt_eq(lit(date(start))).and(col(column).lt(lit(date(start)).add(lit(span))))
}

fn float(column: &str) -> Expr {
    col(column).cast(Type::Float64)
}

/// Shipping modes and order priority: late lines received in 1994 by mail or ship, split by
/// their order's priority.
pub fn q12(t: &Tables) -> Result<Frame, FrameError> {
    let lines = t.table("lineitem")?.filter(
        col("l_shipmode")
            .is_in(["MAIL", "SHIP"])
            .and(col("l_commitdate").lt(col("l_receiptdate")))
            .and(col("l_shipdate").lt(col("l_commitdate")))
            .and(within("l_receiptdate", "1994-01-01", years(1))),
    );
    let urgent = when(col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])).then(lit(1)).otherwise(lit(0));
    Ok(lines
        .merge_on(&t.table("orders")?, &["l_orderkey"], &["o_orderkey"], Inner)
        .with_column("high", urgent)
        .groupby(&["l_shipmode"])
        .aggregate(&[("high_line_count", col("high"), Sum), ("low_line_count", lit(1).sub(col("high")), Sum)])
        .sort_by(&[asc("l_shipmode")]))
}

/// Customer distribution: how many customers have how many orders (not counting orders whose
/// comment mentions special requests).
pub fn q13(t: &Tables) -> Result<Frame, FrameError> {
    let orders = t.table("orders")?.filter(col("o_comment").like("%special%requests%").not());
    Ok(t.table("customer")?
        .select(&["c_custkey"])
        .merge_on(&orders, &["c_custkey"], &["o_custkey"], Left)
        .groupby(&["c_custkey"])
        .aggregate(&[("c_count", col("o_orderkey"), Count)])
        .groupby(&["c_count"])
        .aggregate(&[("custdist", lit(1), Count)])
        .sort_by(&[desc("custdist"), desc("c_count")]))
}

/// Promotion effect: the share of September 1995's revenue from promoted parts.
pub fn q14(t: &Tables) -> Result<Frame, FrameError> {
    let promo = when(col("p_type").starts_with("PROMO")).then(col("rev")).otherwise(lit(0));
    Ok(t.table("lineitem")?
        .filter(within("l_shipdate", "1995-09-01", months(1)))
        .merge_on(&t.table("part")?, &["l_partkey"], &["p_partkey"], Inner)
        .with_column("rev", revenue())
        .groupby(&[])
        .aggregate(&[("promo", promo, Sum), ("total", col("rev"), Sum)])
        .with_column("promo_revenue", lit(100.0).mul(float("promo")).div(float("total")))
        .select(&["promo_revenue"]))
}

/// Top supplier: the suppliers with the most revenue in 1996's first quarter.
pub fn q15(t: &Tables) -> Result<Frame, FrameError> {
    let revenue0 = t
        .table("lineitem")?
        .filter(within("l_shipdate", "1996-01-01", months(3)))
        .groupby(&["l_suppkey"])
        .aggregate(&[("total_revenue", revenue(), Sum)]);
    let top = revenue0.groupby(&[]).aggregate(&[("max_revenue", col("total_revenue"), Max)]);
    Ok(t.table("supplier")?
        .merge_on(&revenue0, &["s_suppkey"], &["l_suppkey"], Inner)
        .merge_on(&top, &["total_revenue"], &["max_revenue"], Semi)
        .select(&["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"])
        .sort_by(&[asc("s_suppkey")]))
}

/// Parts/supplier relationship: suppliers (without complaints) who can supply parts of given
/// sizes, not of brand 45 nor medium polished, counted per brand, type and size.
pub fn q16(t: &Tables) -> Result<Frame, FrameError> {
    let complainers = t.table("supplier")?.filter(col("s_comment").like("%Customer%Complaints%"));
    let parts = t.table("part")?.filter(
        col("p_brand")
            .not_eq(lit("Brand#45"))
            .and(col("p_type").starts_with("MEDIUM POLISHED").not())
            .and(col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9])),
    );
    Ok(t.table("partsupp")?
        .merge_on(&complainers, &["ps_suppkey"], &["s_suppkey"], Anti)
        .merge_on(&parts, &["ps_partkey"], &["p_partkey"], Inner)
        .groupby(&["p_brand", "p_type", "p_size"])
        .nunique("ps_suppkey", "supplier_cnt")
        .sort_by(&[desc("supplier_cnt"), asc("p_brand"), asc("p_type"), asc("p_size")]))
}

/// Small-quantity-order revenue: yearly revenue lost if small orders (under a fifth of the
/// part's average quantity) of one brand and container were not filled.
pub fn q17(t: &Tables) -> Result<Frame, FrameError> {
    let parts = t.table("part")?.filter(col("p_brand").eq(lit("Brand#23")).and(col("p_container").eq(lit("MED BOX"))));
    let lines = t.table("lineitem")?.merge_on(&parts, &["l_partkey"], &["p_partkey"], Semi);
    let average = lines
        .groupby(&["l_partkey"])
        .aggregate(&[("avg_qty", col("l_quantity"), Mean)])
        .rename(&[("l_partkey", "a_partkey")]);
    Ok(lines
        .merge_on(&average, &["l_partkey"], &["a_partkey"], Inner)
        .filter(float("l_quantity").lt(lit(0.2).mul(col("avg_qty"))))
        .groupby(&[])
        .aggregate(&[("total", col("l_extendedprice"), Sum)])
        .with_column("avg_yearly", float("total").div(lit(7.0)))
        .select(&["avg_yearly"]))
}

/// Large volume customer: the 100 orders of more than 300 units, by price.
pub fn q18(t: &Tables) -> Result<Frame, FrameError> {
    let lines = t.table("lineitem")?;
    // A group per order: many groups, so the group-by ends in several partitions.
    let large = lines
        .groupby(&["l_orderkey"])
        .split_out(lines.npartitions())
        .aggregate(&[("qty", col("l_quantity"), Sum)])
        .filter(col("qty").gt(lit(300)))
        .select(&["l_orderkey"]);
    let orders = t.table("orders")?.merge_on(&large, &["o_orderkey"], &["l_orderkey"], Semi);
    Ok(lines
        .merge_on(&orders, &["l_orderkey"], &["o_orderkey"], Inner)
        .merge_on(&t.table("customer")?, &["o_custkey"], &["c_custkey"], Inner)
        .groupby(&["c_name", "o_custkey", "l_orderkey", "o_orderdate", "o_totalprice"])
        .aggregate(&[("sum_qty", col("l_quantity"), Sum)])
        .rename(&[("o_custkey", "c_custkey"), ("l_orderkey", "o_orderkey")])
        .sort_by(&[desc("o_totalprice"), asc("o_orderdate"), asc("o_orderkey")])
        .limit(100))
}

/// Discounted revenue: lines of three brand/container/quantity/size combinations, shipped by
/// air and delivered in person.
pub fn q19(t: &Tables) -> Result<Frame, FrameError> {
    let case = |brand: &str, containers: [&str; 4], low: i64, size: i64| {
        col("p_brand")
            .eq(lit(brand))
            .and(col("p_container").is_in(containers))
            .and(col("l_quantity").between(lit(low), lit(low + 10)))
            .and(col("p_size").between(lit(1), lit(size)))
    };
    let lines = t
        .table("lineitem")?
        .filter(col("l_shipmode").is_in(["AIR", "AIR REG"]).and(col("l_shipinstruct").eq(lit("DELIVER IN PERSON"))));
    Ok(lines
        .merge_on(&t.table("part")?, &["l_partkey"], &["p_partkey"], Inner)
        .filter(
            case("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
                .or(case("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10))
                .or(case("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)),
        )
        .groupby(&[])
        .aggregate(&[("revenue", revenue(), Sum)]))
}

/// Potential part promotion: Canadian suppliers with more than half of 1994's shipped
/// quantity of some forest part still in stock.
pub fn q20(t: &Tables) -> Result<Frame, FrameError> {
    let forest = t.table("part")?.filter(col("p_name").starts_with("forest"));
    let shipped = t
        .table("lineitem")?
        .filter(within("l_shipdate", "1994-01-01", years(1)))
        .merge_on(&forest, &["l_partkey"], &["p_partkey"], Semi)
        .groupby(&["l_partkey", "l_suppkey"])
        .aggregate(&[("qty", col("l_quantity"), Sum)]);
    let stocked = t
        .table("partsupp")?
        .merge_on(&forest, &["ps_partkey"], &["p_partkey"], Semi)
        .merge_on(&shipped, &["ps_partkey", "ps_suppkey"], &["l_partkey", "l_suppkey"], Inner)
        .filter(float("ps_availqty").gt(lit(0.5).mul(float("qty"))));
    let canada = t.table("nation")?.filter(col("n_name").eq(lit("CANADA")));
    Ok(t.table("supplier")?
        .merge_on(&canada, &["s_nationkey"], &["n_nationkey"], Semi)
        .merge_on(&stocked, &["s_suppkey"], &["ps_suppkey"], Semi)
        .select(&["s_name", "s_address"])
        .sort_by(&[asc("s_name")]))
}

/// Suppliers who kept orders waiting: Saudi suppliers who alone were late on a finished
/// order of several suppliers.
pub fn q21(t: &Tables) -> Result<Frame, FrameError> {
    let lines = t.table("lineitem")?.select(&["l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate"]);
    let late = lines.filter(col("l_receiptdate").gt(col("l_commitdate")));
    // EXISTS another supplier on the order: more than one distinct supplier. NOT EXISTS
    // another late supplier: exactly one distinct late supplier (this line's).
    // A group per order: several output partitions, hash-partitioned by order, so the joins
    // below move only the other side.
    let n = lines.npartitions();
    let shared =
        lines.groupby(&["l_orderkey"]).split_out(n).nunique("l_suppkey", "n_supp").filter(col("n_supp").gt(lit(1)));
    let alone_late =
        late.groupby(&["l_orderkey"]).split_out(n).nunique("l_suppkey", "n_late").filter(col("n_late").eq(lit(1)));
    let finished = t.table("orders")?.filter(col("o_orderstatus").eq(lit("F")));
    let saudi = t.table("nation")?.filter(col("n_name").eq(lit("SAUDI ARABIA")));
    let suppliers = t.table("supplier")?.merge_on(&saudi, &["s_nationkey"], &["n_nationkey"], Semi);
    Ok(late
        .merge_on(&suppliers, &["l_suppkey"], &["s_suppkey"], Inner)
        .merge_on(&finished, &["l_orderkey"], &["o_orderkey"], Semi)
        .merge_on(&shared, &["l_orderkey"], &["l_orderkey"], Semi)
        .merge_on(&alone_late, &["l_orderkey"], &["l_orderkey"], Semi)
        .groupby(&["s_name"])
        .aggregate(&[("numwait", lit(1), Count)])
        .sort_by(&[desc("numwait"), asc("s_name")])
        .limit(100))
}

/// Global sales opportunity: customers of seven country codes with more than the average
/// positive balance and no orders, per code.
pub fn q22(t: &Tables) -> Result<Frame, FrameError> {
    let codes = ["13", "31", "23", "29", "30", "18", "17"];
    let customers = t
        .table("customer")?
        .with_column("cntrycode", col("c_phone").substring(0, Some(2)))
        .filter(col("cntrycode").is_in(codes));
    let average = customers.filter(col("c_acctbal").gt(lit(decimal("0.00")))).groupby(&[]).aggregate(&[(
        "avg_bal",
        col("c_acctbal"),
        Mean,
    )]);
    Ok(customers
        .merge_on(&average, &[], &[], Cross)
        .filter(float("c_acctbal").gt(col("avg_bal")))
        .merge_on(&t.table("orders")?, &["c_custkey"], &["o_custkey"], Anti)
        .groupby(&["cntrycode"])
        .aggregate(&[("numcust", lit(1), Count), ("totacctbal", col("c_acctbal"), Sum)])
        .sort_by(&[asc("cntrycode")]))
}
