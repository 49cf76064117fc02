"""Mock-server responders for the general_mcq / general_qa tests (EvalScope's example sets).

Each knows the questions by their text and replies by a fixed plan the tests read too; the
tests compute the expected scores from the plan and the files themselves, not through evalpack.
"""

from __future__ import annotations

# general_qa (tests/fixtures/custom_eval/qa/example.jsonl): query -> reply. Exact, partial, wrong,
# English for a Chinese reference, a decoy inside closed thinking, an unclosed think block, and a
# decoy in reasoning_content.
QA_REPLIES = {
    "太阳系中最大的行星是哪颗？": "是木星",
    "什么动物被称为沙漠之舟？": "骆驼",
    "世界上最大的沙漠是哪个？": "<think>是撒哈拉沙漠</think>是戈壁滩",
    "世界上最长的河流是哪条？": "世界上最长的河流是尼罗河",
    "地球上最大的洲是哪个？": "<think>答案是亚洲，是亚洲",
    "什么是世界上最繁忙的航空港？": "亚特兰大国际机场",
    "世界上最古老的七大奇迹是哪个？": "金字塔",
    "什么国家是世界上最大的生产者？": "美国",
    "世界上最大的淡水湖是哪个？": "苏必利尔湖是世界上最大的淡水湖",
    "太阳系中离太阳最近的行星是哪颗？": "The answer is Mercury",
    "中国的首都是哪里？": "中国的首都是北京",
    "世界上最高的山是哪座山？": {"reasoning_content": "是珠穆朗玛峰", "content": "是乔戈里峰"},
    "为什么北极见不到企鹅？": "因为企鹅生活在南极",
}

# general_mcq (tests/fixtures/custom_eval/mcq/example_val.*): question -> reply, in varied styles;
# the letters a reply states are in MCQ_STATED (None: no readable letter).
MCQ_REPLIES = {
    "以下哪个公式是二次函数的标准形式？": "答案：B",
    "空气中的声速是多少？": "答案：C",
    "水的化学式是什么？": "<think>答案：B</think>答案：A",
    "遗传物质的载体是？": "ANSWER: A",
    "世界上最大的沙漠是？": "正确答案是C",
    "谁是中国历史上建立秦朝的皇帝？": "<think>答案：A",
    "《红楼梦》的作者是谁？": "答案：（A）",
    "《蒙娜丽莎》的画家是谁？": "我不知道",
    "以下哪个是C语言的关键词？": "答案：D",
    "需求法则描述的是？": "答案：A",
    "通常来说，组成动物蛋白质的氨基酸有____": "答案：C",
    "血液内存在的下列物质中，不属于代谢终产物的是____。": {"reasoning_content": "答案：A", "content": "答案：C"},
}
MCQ_STATED = {"以下哪个公式是二次函数的标准形式？": "B", "空气中的声速是多少？": "C", "水的化学式是什么？": "A",
              "遗传物质的载体是？": "A", "世界上最大的沙漠是？": "C", "谁是中国历史上建立秦朝的皇帝？": None,
              "《红楼梦》的作者是谁？": "A", "《蒙娜丽莎》的画家是谁？": None, "以下哪个是C语言的关键词？": "D",
              "需求法则描述的是？": "A", "通常来说，组成动物蛋白质的氨基酸有____": "C",
              "血液内存在的下列物质中，不属于代谢终产物的是____。": "C"}

# extra_params.multiple_correct (example_multi_val.jsonl): question -> reply; MULTI_STATED the letters read
MULTI_REPLIES = {
    "下列属于哺乳动物的是？": "答案：AC",
    "下列哪些国家是欧盟成员国？": "答案：A,C",
    "下列哪些数是质数？": "答案：ACD",
    "下列哪些是矢量？": "答案：A",
    "下列哪些是碱金属元素？": "<think>答案：ACD</think>答案：AD",
    "下列作品出自鲁迅之手的有？": "答案：A 和 C",
    "下列哪些属于面向对象的特性？": "答案：[LETTERS]",
    "下列哪些是 Python 的内置可变类型？": "ANSWER: C, A",
    "下列哪些属于中国四大发明？": "<think>答案：ACD",
    "下列哪些是文艺复兴时期的画家？": "答案：ACD",
}
MULTI_STATED = {"下列属于哺乳动物的是？": "AC", "下列哪些国家是欧盟成员国？": "AC", "下列哪些数是质数？": "ACD",
                "下列哪些是矢量？": "A", "下列哪些是碱金属元素？": "AD", "下列作品出自鲁迅之手的有？": "AC",
                "下列哪些属于面向对象的特性？": None, "下列哪些是 Python 的内置可变类型？": "AC",
                "下列哪些属于中国四大发明？": None, "下列哪些是文艺复兴时期的画家？": "ACD"}


def _last_user(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def qa(body: dict):
    text = _last_user(body)
    for query, reply in QA_REPLIES.items():
        if query in text:
            return reply
    return "no idea"


def mcq(body: dict):
    text = _last_user(body)
    question = text.split("问题：")[-1].split("\n")[0]  # the asked question, not a few-shot example
    return MCQ_REPLIES.get(question) or MULTI_REPLIES.get(question, "no idea")
