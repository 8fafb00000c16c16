//! Alipay's trade statement (对账单, feature `bill`): what Alipay says happened to the merchant's
//! money on a day, to check the shop's books against.
//!
//! [`BillDownloadUrlQuery`](crate::api::BillDownloadUrlQuery) gives a short-lived URL of a zip;
//! [`crate::Client::fetch_bill`] downloads it and [`parse_zip`] reads it. The zip holds two
//! GBK-encoded CSV files, `<account>_<date>_业务明细.csv` (one line per payment or refund, what
//! this module parses) and `<account>_<date>_业务明细(汇总).csv` (totals per store). The detail
//! file looks like this (Alipay pads many values with a trailing tab, shown here as `⇥`, so that
//! spreadsheets keep long numbers as text):
//!
//! ```text
//! #支付宝业务明细查询
//! #账号：[20881234567890120156]
//! #起始日期：[2026年12月05日 00:00:00]   终止日期：[2026年12月06日 00:00:00]
//! #-----------------------------------------业务明细列表----------------------------------------
//! 支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
//! 2026120522001446880500012345⇥,CS…⇥,交易⇥,Rust 系统编程⇥,2026-12-05 10:00:00⇥,2026-12-05 10:00:05⇥,…,199.00⇥,199.00⇥,…,⇥,-1.19⇥,0.00⇥,
//! 2026120522001446880500012345⇥,CS…⇥,退款⇥,Rust 系统编程⇥,2026-12-05 10:00:00⇥,2026-12-05 11:30:00⇥,…,-199.00⇥,-199.00⇥,…,RF…⇥,1.19⇥,0.00⇥,
//! #-----------------------------------------业务明细列表结束------------------------------------
//! #交易合计：1笔，商家实收共199.00元，商家优惠共0.00元
//! #退款合计：1笔，商家实收退款共-199.00元，商家优惠退款共0.00元
//! #导出时间：[2026年12月06日 09:12:03]
//! ```
//!
//! Columns are found by their header, not their position (Alipay has added columns over the
//! years). The ones read: 支付宝交易号, 商户订单号, 业务类型 (交易 / 退款), 商品名称, 创建时间,
//! 完成时间, 订单金额（元）, 商家实收（元）, 退款批次号/请求号, 服务费（元）, 备注; the first
//! three and the two amounts are required. Amounts are [`SignedMoney`], negative for refunds; times
//! are Beijing time.

use std::io::Read;

use time::OffsetDateTime;

use crate::money::SignedMoney;

/// A parsed trade statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bill {
    /// `#账号：[…]`: the merchant's Alipay account (user id).
    pub account: Option<String>,
    /// The detail lines, in file order.
    pub lines: Vec<BillLine>,
    /// `#交易合计`: payments and what the merchant received for them.
    pub payments: Option<Total>,
    /// `#退款合计`: refunds and what they took back (negative).
    pub refunds: Option<Total>,
    /// `#导出时间：[…]`, as written.
    pub exported_at: Option<String>,
}

/// A footer total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Total {
    /// How many lines.
    pub count: u64,
    /// 商家实收: what the merchant received (negative for refunds).
    pub received: SignedMoney,
}

/// 业务类型: what a line is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Business {
    /// 交易: a payment.
    Payment,
    /// 退款: a refund.
    Refund,
    /// Anything else, as written.
    Other(String),
}

/// One line of the 业务明细 (business detail).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillLine {
    /// Where it is in the file (1-based), for messages.
    pub line: usize,
    /// 支付宝交易号.
    pub trade_no: String,
    /// 商户订单号.
    pub out_trade_no: String,
    /// 业务类型.
    pub business: Business,
    /// 商品名称.
    pub subject: String,
    /// 创建时间.
    pub created_at: Option<OffsetDateTime>,
    /// 完成时间: when the payment or refund was done.
    pub completed_at: Option<OffsetDateTime>,
    /// 订单金额（元）, negative for a refund.
    pub order_amount: SignedMoney,
    /// 商家实收（元）, negative for a refund.
    pub received: SignedMoney,
    /// 退款批次号/请求号: the refund's `out_request_no`.
    pub out_request_no: Option<String>,
    /// 服务费（元）: Alipay's fee (negative when charged).
    pub service_fee: Option<SignedMoney>,
    /// 备注.
    pub remark: String,
}

/// Why a bill could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BillError {
    /// Not a zip archive, or a damaged one.
    #[error("the bill is not a readable zip file: {0}")]
    Zip(String),
    /// The archive holds no 业务明细 CSV.
    #[error("the zip holds no 业务明细 (business detail) CSV file")]
    NoDetailFile,
    /// The CSV has no 业务明细列表 section.
    #[error("the CSV has no 业务明细列表 (business detail) section")]
    NoDetailSection,
    /// A required column is missing from the detail's header.
    #[error("the business detail has no {0} column")]
    MissingColumn(&'static str),
    /// A line that cannot be understood.
    #[error("line {line}: {reason}")]
    Line {
        /// Where (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Larger than a bill can reasonably be.
    #[error("the bill is larger than {0} bytes uncompressed")]
    TooLarge(u64),
}

/// The most a bill may take uncompressed (a zip bomb is not a bill).
pub const MAX_UNCOMPRESSED: u64 = 1 << 30;

const DETAIL: &str = "业务明细列表";
const DETAIL_END: &str = "业务明细列表结束";

/// Reads the bill in a zip archive as Alipay serves it.
pub fn parse_zip(zip: &[u8]) -> Result<Bill, BillError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| BillError::Zip(e.to_string()))?;
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| BillError::Zip(e.to_string()))?;
        let name = entry_name(entry.name_raw());
        if !name.ends_with(".csv") || !name.contains("业务明细") || name.contains("汇总") {
            continue;
        }
        if entry.size() > MAX_UNCOMPRESSED {
            return Err(BillError::TooLarge(MAX_UNCOMPRESSED));
        }
        let mut bytes = Vec::new();
        entry
            .take(MAX_UNCOMPRESSED + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| BillError::Zip(e.to_string()))?;
        if bytes.len() as u64 > MAX_UNCOMPRESSED {
            return Err(BillError::TooLarge(MAX_UNCOMPRESSED));
        }
        // Decoded into one string, the file's bytes dropped before parsing (a large bill's
        // memory is its text and its lines, not three copies of it).
        return parse_text(&decode(bytes));
    }
    Err(BillError::NoDetailFile)
}

/// A zip entry's name: Alipay writes them in GBK without the UTF-8 flag; other tools in UTF-8.
fn entry_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(name) => name.to_owned(),
        Err(_) => encoding_rs::GBK.decode(raw).0.into_owned(),
    }
}

/// Reads a 业务明细 CSV file: GBK as Alipay writes it (UTF-8 with or without a BOM is accepted
/// too, for files that went through other tools).
pub fn parse_csv(bytes: &[u8]) -> Result<Bill, BillError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_text(text),
        Err(_) => parse_text(&encoding_rs::GBK.decode(bytes).0),
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text of a file's bytes, as [`parse_csv`] reads them, taking the bytes.
fn decode(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => encoding_rs::GBK.decode(error.as_bytes()).0.into_owned(),
    }
}

/// Reads the text of a 业务明细 CSV file.
pub fn parse_text(text: &str) -> Result<Bill, BillError> {
    let mut bill = Bill::default();
    // One pass over the lines: the `#` lines around the detail are read as they come, the
    // detail is kept as a slice of `text` (from after its start line to before its end line).
    let mut start: Option<(usize, usize)> = None; // (index of the start line, where rows begin)
    let mut end: Option<usize> = None;
    let mut rows: usize = 0;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches(['\r', '\n']);
        let next = offset + raw.len();
        match (start, end) {
            (None, _)
                if line.starts_with('#') && line.contains(DETAIL) && !line.contains(DETAIL_END) =>
            {
                start = Some((index, next));
            }
            (Some(_), None) if !line.starts_with('#') => rows += 1,
            (Some(_), None) => {
                end = Some(offset);
                read_comment(line, &mut bill)?;
            }
            _ => read_comment(line, &mut bill)?,
        }
        offset = next;
    }
    let (start, from) = start.ok_or(BillError::NoDetailSection)?;
    let section = &text[from..end.unwrap_or(text.len())];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(section.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| BillError::Line {
            line: start + 2,
            reason: e.to_string(),
        })?
        .iter()
        .map(|h| clean(h).to_owned())
        .collect();
    let columns = Columns::find(&header)?;
    bill.lines.reserve_exact(rows.saturating_sub(1));
    let mut record = csv::StringRecord::new();
    let mut n = 0;
    loop {
        let line = start + 3 + n;
        let more = reader
            .read_record(&mut record)
            .map_err(|e| BillError::Line {
                line,
                reason: e.to_string(),
            })?;
        if !more {
            break;
        }
        n += 1;
        if record.iter().all(|field| clean(field).is_empty()) {
            continue;
        }
        bill.lines.push(columns.read(&record, line)?);
    }
    Ok(bill)
}

/// A value without the padding Alipay adds (tabs, spaces).
fn clean(value: &str) -> &str {
    value.trim_matches(|c: char| c == '\t' || c.is_whitespace())
}

/// The positions of the columns read.
struct Columns {
    trade_no: usize,
    out_trade_no: usize,
    business: usize,
    subject: Option<usize>,
    created_at: Option<usize>,
    completed_at: Option<usize>,
    order_amount: usize,
    received: usize,
    out_request_no: Option<usize>,
    service_fee: Option<usize>,
    remark: Option<usize>,
}

impl Columns {
    fn find(header: &[String]) -> Result<Columns, BillError> {
        let optional = |name: &str| header.iter().position(|h| h == name);
        let required = |name: &'static str| optional(name).ok_or(BillError::MissingColumn(name));
        Ok(Columns {
            trade_no: required("支付宝交易号")?,
            out_trade_no: required("商户订单号")?,
            business: required("业务类型")?,
            subject: optional("商品名称"),
            created_at: optional("创建时间"),
            completed_at: optional("完成时间"),
            order_amount: required("订单金额（元）")?,
            received: required("商家实收（元）")?,
            out_request_no: optional("退款批次号/请求号"),
            service_fee: optional("服务费（元）"),
            remark: optional("备注"),
        })
    }

    fn read(&self, record: &csv::StringRecord, line: usize) -> Result<BillLine, BillError> {
        let field = |index: usize| record.get(index).map(clean).unwrap_or_default();
        let optional = |index: Option<usize>| index.map(field).unwrap_or_default();
        let bad = |what: &str, value: &str| BillError::Line {
            line,
            reason: format!("{what} {value:?} cannot be read"),
        };
        let money = |index: usize, what: &str| -> Result<SignedMoney, BillError> {
            let value = field(index);
            if value.is_empty() {
                return Ok(SignedMoney::ZERO);
            }
            value.parse().map_err(|_| bad(what, value))
        };
        let time =
            |index: Option<usize>, what: &str| -> Result<Option<OffsetDateTime>, BillError> {
                let value = optional(index);
                if value.is_empty() {
                    return Ok(None);
                }
                crate::time::parse(value)
                    .map(Some)
                    .map_err(|_| bad(what, value))
            };
        let business = match field(self.business) {
            "交易" => Business::Payment,
            "退款" => Business::Refund,
            other => Business::Other(other.to_owned()),
        };
        let service_fee = match self.service_fee.map(field) {
            Some(value) if !value.is_empty() => {
                Some(value.parse().map_err(|_| bad("服务费（元）", value))?)
            }
            _ => None,
        };
        Ok(BillLine {
            line,
            trade_no: field(self.trade_no).to_owned(),
            out_trade_no: field(self.out_trade_no).to_owned(),
            business,
            subject: optional(self.subject).to_owned(),
            created_at: time(self.created_at, "创建时间")?,
            completed_at: time(self.completed_at, "完成时间")?,
            order_amount: money(self.order_amount, "订单金额（元）")?,
            received: money(self.received, "商家实收（元）")?,
            out_request_no: Some(optional(self.out_request_no))
                .filter(|no| !no.is_empty())
                .map(str::to_owned),
            service_fee,
            remark: optional(self.remark).to_owned(),
        })
    }
}

/// Reads a `#…` line around the detail: the account, the totals, the export time.
fn read_comment(line: &str, bill: &mut Bill) -> Result<(), BillError> {
    let text = line.trim_start_matches('#').trim();
    let bracketed = |rest: &str| {
        rest.split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(inside, _)| inside.trim().to_owned())
    };
    if let Some(rest) = text.strip_prefix("账号：") {
        bill.account = bracketed(rest).or_else(|| Some(rest.trim().to_owned()));
    } else if let Some(rest) = text.strip_prefix("交易合计：") {
        bill.payments = Some(total(rest, "商家实收共")?);
    } else if let Some(rest) = text.strip_prefix("退款合计：") {
        bill.refunds = Some(total(rest, "商家实收退款共")?);
    } else if let Some(rest) = text.strip_prefix("导出时间：") {
        bill.exported_at = bracketed(rest);
    }
    Ok(())
}

/// `10374笔，商家实收共28790.16元，…`
fn total(text: &str, received_label: &str) -> Result<Total, BillError> {
    let bad = || BillError::Line {
        line: 0,
        reason: format!("a total line {text:?} cannot be read"),
    };
    let (count, rest) = text.split_once('笔').ok_or_else(bad)?;
    let count = count.trim().parse().map_err(|_| bad())?;
    let received = rest
        .split_once(received_label)
        .and_then(|(_, r)| r.split_once('元'))
        .map(|(amount, _)| amount.trim())
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    Ok(Total { count, received })
}

/// Why a bill could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Asking for the download URL failed (see [`crate::Error::is_outcome_unknown`]).
    #[error(transparent)]
    Api(#[from] crate::Error),
    /// The download failed.
    #[error("downloading the bill failed: {0}")]
    Download(String),
    /// The file is not a bill this module can read.
    #[error(transparent)]
    Bill(#[from] BillError),
}

/// The most a bill download may weigh (compressed).
pub const MAX_DOWNLOAD: usize = 256 << 20;

impl crate::Client {
    /// The trade bill of `date` (`yyyy-MM-dd`, Beijing time): asks for the download URL
    /// ([`BillDownloadUrlQuery`](crate::api::BillDownloadUrlQuery)), downloads the zip at once
    /// (the URL expires within a minute) and parses it. `Ok(None)` when Alipay says, verified,
    /// that there is no bill for the day (`isp.bill_not_exist`).
    pub async fn fetch_bill(&self, date: &str) -> Result<Option<Bill>, FetchError> {
        let query = crate::api::BillDownloadUrlQuery::trade(date);
        let url = match self.execute(&query).await {
            Ok(answer) => answer.bill_download_url,
            Err(error) if error.verified_sub_code() == Some("isp.bill_not_exist") => {
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        let zip = self.download_bill(&url).await?;
        Ok(Some(parse_zip(&zip)?))
    }

    /// Downloads a bill file (at most [`MAX_DOWNLOAD`] bytes).
    pub async fn download_bill(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let failed = |what: String| FetchError::Download(what);
        let mut response = self
            .http()
            .get(url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(failed(format!("HTTP {}", response.status().as_u16())));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            if bytes.len() + chunk.len() > MAX_DOWNLOAD {
                return Err(failed(format!("larger than {MAX_DOWNLOAD} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

    fn sample() -> String {
        [
            "#支付宝业务明细查询",
            "#账号：[20887210000000010156]",
            "#起始日期：[2026年12月05日 00:00:00]   终止日期：[2026年12月06日 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            HEADER,
            "2026120522001446880500012345\t,CS1\t,交易\t,\"Rust, 系统编程\"\t,2026-12-05 10:00:00\t,2026-12-05 10:00:05\t,\t,\t,\t,\t,buy***@sandbox.com\t,199.00\t,199.00\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,-1.19\t,0.00\t,\t",
            "2026120522001446880500012345\t,CS1\t,退款\t,\"Rust, 系统编程\"\t,2026-12-05 10:00:00\t,2026-12-05 11:30:00\t,\t,\t,\t,\t,buy***@sandbox.com\t,-100.00\t,-100.00\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,RF42\t,0.60\t,0.00\t,\t",
            "#-----------------------------------------业务明细列表结束------------------------------------",
            "#交易合计：1笔，商家实收共199.00元，商家优惠共0.00元",
            "#退款合计：1笔，商家实收退款共-100.00元，商家优惠退款共0.00元",
            "#导出时间：[2026年12月06日 09:12:03]",
        ]
        .join("\r\n")
    }

    #[test]
    fn reads_the_real_layout() {
        let gbk = encoding_rs::GBK.encode(&sample()).0.into_owned();
        let bill = parse_csv(&gbk).unwrap();
        assert_eq!(bill.account.as_deref(), Some("20887210000000010156"));
        assert_eq!(bill.lines.len(), 2);
        let payment = &bill.lines[0];
        assert_eq!(payment.trade_no, "2026120522001446880500012345");
        assert_eq!(payment.out_trade_no, "CS1");
        assert_eq!(payment.business, Business::Payment);
        assert_eq!(payment.subject, "Rust, 系统编程", "a quoted comma");
        assert_eq!(payment.received, "199.00".parse().unwrap());
        assert_eq!(payment.service_fee, Some("-1.19".parse().unwrap()));
        assert_eq!(
            payment.completed_at.map(crate::time::format).as_deref(),
            Some("2026-12-05 10:00:05")
        );
        let refund = &bill.lines[1];
        assert_eq!(refund.business, Business::Refund);
        assert_eq!(refund.received.fen(), -10_000);
        assert_eq!(refund.out_request_no.as_deref(), Some("RF42"));
        assert_eq!(
            bill.payments,
            Some(Total {
                count: 1,
                received: "199.00".parse().unwrap()
            })
        );
        assert_eq!(bill.refunds.unwrap().received.fen(), -10_000);
        assert_eq!(bill.exported_at.as_deref(), Some("2026年12月06日 09:12:03"));
    }

    #[test]
    fn an_empty_day_and_broken_files() {
        let empty = sample()
            .lines()
            .filter(|l| !l.starts_with("2026"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse_text(&empty).unwrap().lines.is_empty());
        assert!(matches!(
            parse_text("#nothing here\n"),
            Err(BillError::NoDetailSection)
        ));
        let no_amounts = sample().replace("商家实收（元）", "实收");
        assert!(matches!(
            parse_text(&no_amounts),
            Err(BillError::MissingColumn("商家实收（元）"))
        ));
        let bad_money = sample().replace(",199.00\t,199.00\t", ",1.999\t,199.00\t");
        assert!(matches!(
            parse_text(&bad_money),
            Err(BillError::Line { line: 6, .. })
        ));
        assert!(matches!(parse_zip(b"not a zip"), Err(BillError::Zip(_))));
    }

    #[test]
    fn reads_the_detail_out_of_the_zip() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("20887210000000010156_20261205_业务明细(汇总).csv", options)
            .unwrap();
        zip.write_all(b"#summary").unwrap();
        zip.start_file("20887210000000010156_20261205_业务明细.csv", options)
            .unwrap();
        zip.write_all(&encoding_rs::GBK.encode(&sample()).0)
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert_eq!(parse_zip(&bytes).unwrap().lines.len(), 2);
    }
}
