"""Write the bad-input corpus under tests/data/bad/ (run from the repository root).

Each file is malformed in one way a county's extract can be; tests/test_clean_bad_input.py
states the exact outcome expected of each. The files are committed; this script documents
how they were made and rebuilds them byte for byte.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from analysis.synth.writers import Sheet, write_xlsx

ROOT = Path(__file__).resolve().parent / "bad"
ATT = "学校标识码,学籍号,姓名,月份,应到天数,实到天数,病假,事假,旷课"
XJ = "学籍号,姓名,性别,出生日期,民族,身份证件号,学校标识码,学校名称,年级,学籍状态"
HK = "户号,姓名,性别,民族,出生日期,公民身份号码"
SCHOOL = "2153021001"
ID1 = "530402200803011230"  # check character computed below
OK_ROW = f"{SCHOOL},G{{id}},张三,2016-09,20,20,0,0,0"


def _id(first17: str) -> str:
    from analysis.idnumber import check_char

    return first17 + check_char(first17)


def w(rel: str, data: bytes | str, enc: str = "utf-8") -> None:
    p = ROOT / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode(enc))


def main() -> None:
    a = _id("53040220080301123")
    b = _id("53040220090415222")
    good = f"{SCHOOL},G{a},张三,2016-09,20,20,0,0,0\n{SCHOOL},G{b},李丽,2016-09,20,19,1,0,0\n"
    # The roster every test run has beside the bad file.
    w(
        "schools/roster.csv",
        f"学校标识码,学校名称,学段\n{SCHOOL},红塔玉兴街道中心小学,小学\n2153033001,红塔玉兴街道中学,初中\n",
    )
    w("attendance/01_empty.csv", b"")
    w("attendance/02_header_only.csv", ATT + "\n")
    w(
        "attendance/03_binary_junk.csv",
        bytes(np.random.default_rng(3).integers(0, 256, 2048, dtype=np.uint8)),
    )
    w("attendance/04_truncated.csv", ATT + "\n" + good + f"{SCHOOL},G{a},张三,2016-10,16")
    w("attendance/05_bom_but_gb18030.csv", b"\xef\xbb\xbf" + (ATT + "\n" + good).encode("gb18030"))
    w(
        "attendance/06_latin1.csv",
        (ATT + "\n").encode("utf-8")
        + f"{SCHOOL},G{a},Jos\xe9,2016-09,20,20,0,0,0\n".encode("latin-1"),
    )
    w("attendance/07_duplicate_headers.csv", ATT + ",姓名\n" + good.replace("\n", ",重复\n"))
    w(
        "attendance/08_negative.csv",
        ATT + "\n" + good + f"{SCHOOL},G{a},张三,2016-10,16,18,0,0,-2\n",
    )
    w(
        "attendance/09_present_exceeds_required.csv",
        ATT + "\n" + good + f"{SCHOOL},G{a},张三,2016-10,16,17,0,0,0\n",
    )
    w(
        "attendance/10_text_numbers.csv",
        ATT + "\n" + good + f"{SCHOOL},G{a},张三,2016-10,十六,16,0,0,0\n",
    )
    w("attendance/11_blank_lines.csv", ATT + "\n\n" + good.replace("\n", "\n\n"))
    w(
        "attendance/12_title_rows.csv",
        "红塔区2016学年月考勤\n导出时间：2017-01-15\n" + ATT + "\n" + good,
        "gb18030",
    )
    w("attendance/13_only_title.csv", "红塔区2016学年月考勤\n")
    w(
        "attendance/14_missing_required_column.csv",
        ATT.replace(",旷课", "") + "\n" + good.replace(",0\n", "\n"),
    )
    w("attendance/15_unknown_extension.txt", ATT + "\n" + good)
    w("attendance/16_not_a_zip.xlsx", "这不是一个工作簿")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            zipfile.ZipInfo("[Content_Types].xml", date_time=(1980, 1, 1, 0, 0, 0)), "<Types/>"
        )
    w("attendance/17_corrupt_zip.xlsx", buf.getvalue()[:30])
    w(
        "attendance/18_student_missing.csv",
        ATT + "\n" + good + f"{SCHOOL},,无名,2016-10,16,16,0,0,0\n",
    )
    w("xueji/19_attendance_in_wrong_folder.csv", ATT + "\n" + good)
    xj = f"G{a},张三,男,2008-03-01,汉族,{a},{SCHOOL},红塔玉兴街道中心小学,三年级,在读\n"
    w(
        "xueji/20_unknown_school_code.csv",
        XJ
        + "\n"
        + xj
        + xj.replace(SCHOOL, "2153029999")
        .replace("G" + a, "G" + b)
        .replace(a, b)
        .replace("张三,男,2008-03-01", "李丽,女,2009-04-15"),
    )
    w(
        "xueji/21_bad_ids.csv",
        XJ
        + "\n"
        + xj
        + xj.replace("," + a + ",", "," + a[:-1] + ("0" if a[-1] != "0" else "1") + ",").replace(
            "G" + a, "G" + b
        )
        + xj.replace("," + a + ",", ",不详,").replace("G" + a, "L" + a),
    )
    w(
        "hukou/22_future_birth.csv",
        HK + f"\n5304020001,张三,男,汉族,2008-03-01,{a}\n5304020002,李四,女,汉族,2035-01-01,{b}\n",
    )
    w(
        "hukou/23_bad_dates.csv",
        HK
        + f"\n5304020001,张三,男,汉族,2008-02-30,{a}\n5304020002,李四,女,汉族,明年,{b}\n5304020003,王五,男,汉族,2008年3月1日,{a}\n",
    )
    w(
        "hukou/24_rare_character_gb18030.csv",
        HK + f"\n5304020001,龚䶮,男,汉族,2008-03-01,{a}\n",
        "gb18030",
    )
    w(
        "hukou/25_extra_unknown_columns.csv",
        HK
        + ",联系电话,家庭年收入\n"
        + f"5304020001,张三,男,汉族,2008-03-01,{a},13800000000,5000\n",
    )
    # XLSX: IDs typed as numbers, a sheet without header, merged cells down the columns.
    hk_cols = HK.split(",")
    ids = np.array([a, b], dtype=object)
    write_xlsx(
        ROOT / "hukou/26_ids_as_numbers.xlsx",
        [
            Sheet(
                "Sheet1",
                hk_cols,
                [
                    np.array(["1", "2"], dtype=object),
                    np.array(["张三", "李四"], dtype=object),
                    np.array(["男", "男"], dtype=object),
                    np.array(["汉族", "汉族"], dtype=object),
                    np.array(["2008-03-01", "2009-04-15"], dtype=object),
                    ids,
                ],
                ["text"] * 6,
                titles=["户籍核查表"],
                numeric={5: np.array([True, True])},
            )
        ],
    )
    write_xlsx(
        ROOT / "hukou/27_sheet_without_header.xlsx",
        [
            Sheet(
                "数据",
                ["张三", "男", "2008-03-01"],
                [
                    np.array(["李四"], dtype=object),
                    np.array(["男"], dtype=object),
                    np.array(["2009-04-15"], dtype=object),
                ],
                ["text"] * 3,
            )
        ],
    )
    xj_cols = XJ.split(",")
    rows = [
        [
            f"G{a}",
            "张三",
            "男",
            "2008-03-01",
            "汉族",
            a,
            SCHOOL,
            "红塔玉兴街道中心小学",
            "三年级",
            "在读",
        ],
        [f"G{b}", "李丽", "女", "2009-04-15", "汉族", b, "", "", "", "在读"],
    ]
    cols = [np.array([r[j] for r in rows], dtype=object) for j in range(len(xj_cols))]
    write_xlsx(
        ROOT / "xueji/28_merged_cells_down.xlsx",
        [Sheet("Sheet1", xj_cols, cols, ["text"] * len(xj_cols), titles=["学籍"])],
    )
    write_xlsx(
        ROOT / "xueji/29_notes_sheet_first.xlsx",
        [
            Sheet("说明", ["填表说明"], [np.array(["请勿修改表头"], dtype=object)], ["text"]),
            Sheet(
                "学生",
                xj_cols,
                [np.array([rows[0][j]], dtype=object) for j in range(len(xj_cols))],
                ["text"] * len(xj_cols),
            ),
        ],
    )
    # The ID disagrees with the birth-date column, or with the sex column.
    w(
        "hukou/31_id_disagrees_with_birth_date.csv",
        HK + f"\n5304020001,张三,男,汉族,2008-03-02,{a}\n5304020002,李四,女,汉族,2009-04-15,{b}\n",
    )
    w("hukou/32_id_disagrees_with_sex.csv", HK + f"\n5304020001,张三,女,汉族,2008-03-01,{a}\n")
    # A real school's code with another school's name (a code typed wrong).
    w(
        "xueji/33_school_code_of_another_school.csv",
        XJ + "\n" + xj.replace(SCHOOL, "2153033001"),
    )
    # Values outside the declared schema (resources/schema.yaml): codes not in their list,
    # a registry number of the wrong form, days out of range, a cross-field rule broken.
    w(
        "xueji/34_codes_not_in_list.csv",
        XJ
        + "\n"
        + xj.replace(",男,", ",未知,")
        + xj.replace("G" + a, "G" + b).replace("三年级", "十年级")
        + xj.replace("G" + a, "L" + a).replace("汉族", "哈尼"),  # a short form: standardised
    )
    w("xueji/35_bad_registry_number.csv", XJ + "\n" + xj.replace("G" + a, "123"))
    w(
        "leave/36_leave_ends_before_it_starts.csv",
        "学籍号,请假类型,开始日期,结束日期,请假天数\n"
        f"G{a},病假,2016-10-10,2016-10-11,2\n"
        f"G{a},事假,2016-11-10,2016-11-08,2\n"
        f"G{a},事假,2016-12-01,2016-12-01,-3\n",
    )
    w(
        "attendance/30_semicolon_separated.csv",
        ATT.replace(",", ";") + "\n" + good.replace(",", ";"),
    )


if __name__ == "__main__":
    main()
