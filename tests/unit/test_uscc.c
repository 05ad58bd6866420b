/* test_uscc.c — Unified Social Credit Code (GB 32100-2015) syntax and check. */
#include "gxtest.h"

#include "uscc.h"

/* Codes of real, registered organisations: public registration data, searchable
 * in the National Enterprise Credit Information Publicity System
 * (国家企业信用信息公示系统, gsxt.gov.cn). Each was kept only after an
 * independent computation of its check character agreed (a mistyped code
 * passes with probability 1/31 only). */
static const struct {
    const char *code;
    const char *holder;
} s_real[] = {
    {"914403001922038216", "华为技术有限公司 (Huawei Technologies Co., Ltd.)"},
    {"91440300708461136T", "深圳市腾讯计算机系统有限公司 (Shenzhen Tencent Computer Systems)"},
    {"91330100799655058B", "阿里巴巴(中国)有限公司 (Alibaba (China) Co., Ltd.)"},
    {"91110108551385082Q", "北京小米科技有限责任公司 (Beijing Xiaomi Technology)"},
    {"91440300192317458F", "比亚迪股份有限公司 (BYD Company Limited)"},
    {"9144030027939873X7", "中兴通讯股份有限公司 (ZTE Corporation)"},
    {"91440400192548256N", "珠海格力电器股份有限公司 (Gree Electric Appliances)"},
    {"91440606722473344C", "美的集团股份有限公司 (Midea Group)"},
    {"91370200264574251E", "海尔智家股份有限公司 (Haier Smart Home)"},
    {"91110000710926094P", "中国石油化工股份有限公司 (Sinopec Corp.)"},
    {"911000001000013428", "中国银行股份有限公司 (Bank of China)"},
    {"91100000100003962T", "中国工商银行股份有限公司 (ICBC)"},
    {"91520000214434146R", "贵州茅台酒股份有限公司 (Kweichow Moutai)"},
};

/* The worked example used throughout Chinese validator documentation (e.g. the
 * CreditCodeUtil tests of the hutool library). */
#define S_EXAMPLE "91350100M000100Y43"

TEST(real_codes_validate)
{
    for (size_t i = 0; i < sizeof s_real / sizeof s_real[0]; i++) {
        if (gx_uscc_validate(s_real[i].code) != GX_OK)
            fprintf(stderr, "  rejected %s of %s\n", s_real[i].code, s_real[i].holder);
        CHECK(gx_uscc_validate(s_real[i].code) == GX_OK);
        CHECK(gx_uscc_syntax_ok(s_real[i].code));
        CHECK_EQ_INT(gx_uscc_check_char(s_real[i].code), s_real[i].code[17]);
    }
    CHECK(gx_uscc_validate(S_EXAMPLE) == GX_OK);
    CHECK_EQ_INT(gx_uscc_check_char(S_EXAMPLE), '3');
}

TEST(check_char_of_17_and_18_chars_is_the_same)
{
    CHECK_EQ_INT(gx_uscc_check_char("91350100M000100Y4"), '3');
    CHECK_EQ_INT(gx_uscc_check_char("914403001922038216"), '6');
    CHECK_EQ_INT(gx_uscc_check_char("9144030027939873X"), '7');
}

/* When the weighted sum is a multiple of 31, 31 - 0 = 31 is written '0'.
 * Constructed code (Hebi county part 410600), not a registered one. */
TEST(check_value_31_is_written_zero)
{
    CHECK_EQ_INT(gx_uscc_check_char("91410600MA000000E"), '0');
    CHECK(gx_uscc_validate("91410600MA000000E0") == GX_OK);
    CHECK(gx_uscc_validate("91410600MA000000E1") == GX_ERR_INVALID);
}

TEST(wrong_check_char_fails)
{
    CHECK(gx_uscc_validate("914403001922038217") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate("91350100M000100Y44") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate("91440300708461136U") == GX_ERR_INVALID);
    /* syntax is still fine: only the check is wrong */
    CHECK(gx_uscc_syntax_ok("914403001922038217"));
    /* transposing two characters is caught */
    CHECK(gx_uscc_validate("914403001922038126") == GX_ERR_INVALID);
}

TEST(lowercase_fails)
{
    CHECK(!gx_uscc_syntax_ok("91350100m000100y43"));
    CHECK(gx_uscc_validate("91350100m000100y43") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate("91440300708461136t") == GX_ERR_INVALID);
    CHECK_EQ_INT(gx_uscc_check_char("91350100m000100Y4"), 0);
}

TEST(wrong_length_fails)
{
    CHECK(gx_uscc_validate("91440300192203821") == GX_ERR_INVALID);   /* 17 */
    CHECK(gx_uscc_validate("9144030019220382160") == GX_ERR_INVALID); /* 19 */
    CHECK(gx_uscc_validate("91350100M000100Y431") == GX_ERR_INVALID); /* 19, valid prefix */
    CHECK(!gx_uscc_syntax_ok("91440300192203821"));
    CHECK(!gx_uscc_syntax_ok("9144030019220382160"));
    CHECK(gx_uscc_validate("") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate(NULL) == GX_ERR_INVALID);
    CHECK_EQ_INT(gx_uscc_check_char("9144030019"), 0);
}

TEST(forbidden_letters_fail)
{
    /* I O S V Z are not in the symbol set, wherever they stand */
    const char *bad[] = {"91350100I000100Y43", "91350100O000100Y43", "91350100S000100Y43",
                         "91350100V000100Y43", "91350100Z000100Y43", "91350100M000100YI3",
                         "914403001922038O16", "S14403001922038216", "91440300192203821Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!gx_uscc_syntax_ok(bad[i]));
        CHECK(gx_uscc_validate(bad[i]) == GX_ERR_INVALID);
    }
    CHECK_EQ_INT(gx_uscc_check_char("91350100O000100Y4"), 0);
}

TEST(other_bytes_fail)
{
    CHECK(gx_uscc_validate("91350100M000100Y4 ") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate(" 91350100M000100Y4") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate("91350100M000-00Y43") == GX_ERR_INVALID);
    CHECK(gx_uscc_validate("91350100M000\xe4\xb8\x80Y43") == GX_ERR_INVALID);
}

/* Every single-character substitution of a valid code is detected: the check is
 * a mod-31 weighted sum with weights prime to 31. */
TEST(every_single_substitution_is_detected)
{
    static const char sym[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    char code[19];
    int undetected = 0;
    for (int pos = 0; pos < 17; pos++) {
        for (int k = 0; k < 31; k++) {
            memcpy(code, S_EXAMPLE, sizeof code);
            if (code[pos] == sym[k])
                continue;
            code[pos] = sym[k];
            if (gx_uscc_validate(code) == GX_OK)
                undetected++;
        }
    }
    CHECK_EQ_INT(undetected, 0);
}

int main(void)
{
    RUN(real_codes_validate);
    RUN(check_char_of_17_and_18_chars_is_the_same);
    RUN(check_value_31_is_written_zero);
    RUN(wrong_check_char_fails);
    RUN(lowercase_fails);
    RUN(wrong_length_fails);
    RUN(forbidden_letters_fail);
    RUN(other_bytes_fail);
    RUN(every_single_substitution_is_detected);
    return gx_test_done();
}
