/* pending.c: the rules of the ops whose family has not moved to its file yet (their logic is still in the
 * generic passes). */
#include "dlc.h"

const OpRule rule_INPUT = {0};
const OpRule rule_PARAM = {0};
const OpRule rule_CONST = {0};
const OpRule rule_STATE = {0};
const OpRule rule_NEG = {0};
const OpRule rule_EXP = {.calls = CALLS_EXPV};
const OpRule rule_LOG = {0};
const OpRule rule_ABS = {0};
const OpRule rule_SQRT = {0};
const OpRule rule_SIGN = {0};
const OpRule rule_RELU = {.calls = CALLS_RELU};
const OpRule rule_SIGMOID = {.calls = CALLS_EXPV};
const OpRule rule_TANH = {0};
const OpRule rule_COPY = {0};
const OpRule rule_DROPMASK = {.calls = CALLS_DROPMASK};
const OpRule rule_ADD = {0};
const OpRule rule_SUB = {0};
const OpRule rule_MUL = {0};
const OpRule rule_DIV = {0};
const OpRule rule_POW = {0};
const OpRule rule_MAXIMUM = {.calls = CALLS_MAXR};
const OpRule rule_MINIMUM = {.calls = CALLS_MINR};
const OpRule rule_LT = {0};
const OpRule rule_LE = {0};
const OpRule rule_GT = {0};
const OpRule rule_GE = {0};
const OpRule rule_EQ = {0};
const OpRule rule_NE = {0};
const OpRule rule_WHERE = {0};
