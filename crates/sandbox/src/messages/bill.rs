//! The trade bill (对账单) of a day, as Alipay serves it: a zip of two GBK-encoded CSV files,
//! `<account>_<yyyyMMdd>_业务明细.csv` (a line per payment and per refund, tab-padded values, the
//! `#` header and footer lines) and `<account>_<yyyyMMdd>_业务明细(汇总).csv` (the day's
//! totals). Pure: the same trades make the same bytes (but for the export time).
//!
//! Differences from Alipay's files, none of which a parser should care about: the zip's entry
//! names are UTF-8 (flagged as such) where Alipay writes GBK names; there is no store, so the
//! store columns are empty and the summary has one row; the service fee is 0.6% of the amount,
//! rounded half up, and given back pro rata on refunds.

use std::io::Write as _;

use alipay::{Money, SignedMoney};
use time::{Date, OffsetDateTime};

use crate::trades::{Refund, Trade};

/// The columns of the business detail, as Alipay writes them.
pub const DETAIL_HEADER: [&str; 25] = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
];

const SUMMARY_HEADER: [&str; 12] = [
    "门店编号",
    "门店名称",
    "交易订单总笔数",
    "退款订单总笔数",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "卡消费金额（元）",
    "服务费（元）",
    "分润（元）",
    "实收净额（元）",
];

const DETAIL_START: &str = "#-----------------------------------------业务明细列表----------------------------------------";
const DETAIL_END: &str = "#-----------------------------------------业务明细列表结束------------------------------------";
const SUMMARY_START: &str = "#-----------------------------------------业务汇总列表----------------------------------------";
const SUMMARY_END: &str = "#-----------------------------------------业务汇总列表结束------------------------------------";

/// A bill ready to download.
#[derive(Clone, Debug)]
pub struct BillFile {
    /// `<account>_<yyyyMMdd>.csv.zip`.
    pub name: String,
    /// The zip.
    pub bytes: Vec<u8>,
}

/// What goes into a day's bill.
#[derive(Debug)]
pub struct Day<'a> {
    /// The merchant's account (seller id).
    pub account: &'a str,
    /// The day (Beijing time).
    pub date: Date,
    /// Trades paid that day.
    pub payments: &'a [Trade],
    /// Refunds made that day, with their trades.
    pub refunds: &'a [(Trade, Refund)],
    /// When the file is made.
    pub exported_at: OffsetDateTime,
}

/// Alipay's fee on `amount`: 0.6%, rounded half up.
fn service_fee(amount: Money) -> Money {
    Money::from_fen((amount.fen() * 6 + 500) / 1000)
}

fn chinese_date(date: Date) -> String {
    format!(
        "{:04}年{:02}月{:02}日",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn chinese_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(alipay::time::BEIJING);
    format!(
        "{} {:02}:{:02}:{:02}",
        chinese_date(at.date()),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Alipay pads values with a tab, so that spreadsheets keep long numbers as text.
fn padded<I: IntoIterator<Item = String>>(values: I) -> Vec<String> {
    values
        .into_iter()
        .map(|value| format!("{value}\t"))
        .collect()
}

fn csv_lines(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a row is never of another length than the header's.
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(row);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn money(amount: SignedMoney) -> String {
    amount.to_string()
}

/// What differs between a payment's line and a refund's in the business detail.
struct DetailLine<'a> {
    trade: &'a Trade,
    kind: &'static str,
    finished_at: Option<OffsetDateTime>,
    amount: SignedMoney,
    request_no: String,
    fee: SignedMoney,
    note: String,
}

fn detail_row(line: DetailLine<'_>) -> Vec<String> {
    let zero = || "0.00".to_owned();
    let trade = line.trade;
    padded([
        trade.trade_no.clone(),
        trade.out_trade_no.clone(),
        line.kind.to_owned(),
        trade.subject.clone(),
        alipay::time::format(trade.gmt_create),
        line.finished_at
            .map(alipay::time::format)
            .unwrap_or_default(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        trade
            .payer
            .as_ref()
            .map(|p| crate::ids::mask_logon_id(&p.logon_id))
            .unwrap_or_default(),
        money(line.amount),
        money(line.amount),
        zero(),
        zero(),
        zero(),
        zero(),
        zero(),
        String::new(),
        zero(),
        zero(),
        line.request_no,
        money(line.fee),
        zero(),
        line.note,
    ])
}

fn detail_rows(day: &Day<'_>) -> Vec<Vec<String>> {
    let payments = day.payments.iter().map(|trade| DetailLine {
        trade,
        kind: "交易",
        finished_at: trade.gmt_payment,
        amount: trade.total_amount.into(),
        request_no: String::new(),
        // The merchant pays the fee on a payment and gets it back on a refund.
        fee: -SignedMoney::from(service_fee(trade.total_amount)),
        note: String::new(),
    });
    let refunds = day.refunds.iter().map(|(trade, refund)| DetailLine {
        trade,
        kind: "退款",
        finished_at: Some(refund.gmt_refund),
        amount: -SignedMoney::from(refund.amount),
        request_no: refund.out_request_no.clone(),
        fee: service_fee(refund.amount).into(),
        note: refund.reason.clone().unwrap_or_default(),
    });
    payments.chain(refunds).map(detail_row).collect()
}

fn period_lines(kind: &str, day: &Day<'_>) -> String {
    let next = day.date.next_day().unwrap_or(day.date);
    format!(
        "#支付宝{kind}查询\r\n#账号：[{}]\r\n#起始日期：[{} 00:00:00]   终止日期：[{} 00:00:00]\r\n",
        day.account,
        chinese_date(day.date),
        chinese_date(next)
    )
}

/// The business detail's text.
#[must_use]
pub fn detail_text(day: &Day<'_>) -> String {
    let received: SignedMoney = day
        .payments
        .iter()
        .map(|t| SignedMoney::from(t.total_amount))
        .sum();
    let refunded: SignedMoney = day
        .refunds
        .iter()
        .map(|(_, r)| -SignedMoney::from(r.amount))
        .sum();
    let mut text = period_lines("业务明细", day);
    text.push_str(DETAIL_START);
    text.push_str("\r\n");
    text.push_str(&csv_lines(&DETAIL_HEADER, &detail_rows(day)));
    text.push_str(DETAIL_END);
    text.push_str("\r\n");
    text.push_str(&format!(
        "#交易合计：{}笔，商家实收共{received}元，商家优惠共0.00元\r\n",
        day.payments.len()
    ));
    text.push_str(&format!(
        "#退款合计：{}笔，商家实收退款共{refunded}元，商家优惠退款共0.00元\r\n",
        day.refunds.len()
    ));
    text.push_str(&format!(
        "#导出时间：[{}]\r\n",
        chinese_time(day.exported_at)
    ));
    text
}

/// The summary's text.
#[must_use]
pub fn summary_text(day: &Day<'_>) -> String {
    let paid: SignedMoney = day
        .payments
        .iter()
        .map(|t| SignedMoney::from(t.total_amount))
        .sum();
    let refunded: SignedMoney = day
        .refunds
        .iter()
        .map(|(_, r)| SignedMoney::from(r.amount))
        .sum();
    let fees: SignedMoney = day
        .payments
        .iter()
        .map(|t| -SignedMoney::from(service_fee(t.total_amount)))
        .chain(
            day.refunds
                .iter()
                .map(|(_, r)| SignedMoney::from(service_fee(r.amount))),
        )
        .sum();
    let net = paid + -refunded;
    let row = |store: &str| {
        vec![
            store.to_owned(),
            String::new(),
            day.payments.len().to_string(),
            day.refunds.len().to_string(),
            money(net),
            money(net),
            "0.00".to_owned(),
            "0.00".to_owned(),
            "0.00".to_owned(),
            money(fees),
            "0.00".to_owned(),
            money(net + fees),
        ]
    };
    let mut text = period_lines("业务汇总", day);
    text.push_str(SUMMARY_START);
    text.push_str("\r\n");
    text.push_str(&csv_lines(&SUMMARY_HEADER, &[row(""), row("合计")]));
    text.push_str(SUMMARY_END);
    text.push_str("\r\n");
    text.push_str(&format!(
        "#导出时间：[{}]\r\n",
        chinese_time(day.exported_at)
    ));
    text
}

/// The zip Alipay serves for the day.
pub fn zip(day: &Day<'_>) -> std::io::Result<BillFile> {
    let stem = format!(
        "{}_{:04}{:02}{:02}",
        day.account,
        day.date.year(),
        u8::from(day.date.month()),
        day.date.day()
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in [
        (format!("{stem}_业务明细.csv"), detail_text(day)),
        (format!("{stem}_业务明细(汇总).csv"), summary_text(day)),
    ] {
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&encoding_rs::GBK.encode(&text).0)?;
    }
    let bytes = zip.finish().map_err(std::io::Error::other)?.into_inner();
    Ok(BillFile {
        name: format!("{stem}.csv.zip"),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_fee_rounds_half_up() {
        assert_eq!(service_fee(Money::from_fen(13_800)), Money::from_fen(83));
        assert_eq!(service_fee(Money::from_fen(1)), Money::from_fen(0));
        assert_eq!(service_fee(Money::from_fen(250)), Money::from_fen(2));
    }

    #[test]
    fn an_empty_day_still_has_its_frame() {
        let day = Day {
            account: "2088721000000001",
            date: date!(2026 - 12 - 05),
            payments: &[],
            refunds: &[],
            exported_at: datetime!(2026-12-06 09:12:03 +8),
        };
        let text = detail_text(&day);
        assert!(text.starts_with("#支付宝业务明细查询\r\n#账号：[2088721000000001]\r\n"));
        assert!(text.contains(
            "#起始日期：[2026年12月05日 00:00:00]   终止日期：[2026年12月06日 00:00:00]"
        ));
        assert!(text.contains(DETAIL_START) && text.contains(DETAIL_END));
        assert!(text.contains("#交易合计：0笔，商家实收共0.00元"));
        assert!(text.ends_with("#导出时间：[2026年12月06日 09:12:03]\r\n"));
        let file = zip(&day).unwrap();
        assert_eq!(file.name, "2088721000000001_20261205.csv.zip");
        assert_eq!(&file.bytes[..2], b"PK");
    }
}
