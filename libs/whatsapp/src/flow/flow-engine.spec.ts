import fc from 'fast-check';
import { isWhatsAppError } from '../whatsapp.errors';
import { fallbackMessageFor, FlowNoMatch, nextStep } from './flow-engine';
import { aNode, aRealEstateFlow } from './flow.fixtures';
import { validateFlow } from './flow-validation';
import { Flow } from './flow.types';

const flow = aRealEstateFlow();
const messageOf = (id: string): string => {
  const node = flow.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`fixture has no node ${id}`);
  return node.message;
};
function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

const at = (currentNodeId: string | null): { currentNodeId: string | null } => ({ currentNodeId });

describe('nextStep', () => {
  it('runs on a flow that validateFlow accepts', () => {
    expect(validateFlow(flow)).toEqual([]);
  });

  describe('a sender without a conversation gets the start node whatever they wrote', () => {
    it.each(['oi', '', '   ', 'comprar', '1', '2', 'agent', 'voltar', '🏠'])('input %j', (input) => {
      expect(nextStep(flow, at(null), input)).toEqual({
        kind: 'reply',
        nodeId: 'welcome',
        message: messageOf('welcome'),
        via: 'start',
      });
    });

    it.each(['gone', '', 'WELCOME'])('and so does one whose current node %j is not in the flow', (ghost) => {
      expect(nextStep(flow, at(ghost), 'comprar')).toEqual({
        kind: 'reply',
        nodeId: 'welcome',
        message: messageOf('welcome'),
        via: 'start',
      });
    });
  });

  // Every node × every option, by keyword in several spellings and by number.
  const cases = flow.nodes.flatMap((node) =>
    node.options.map((option, index) => ({
      node: node.id,
      match: option.match,
      next: option.next,
      number: index + 1,
    })),
  );

  describe.each(cases)('at $node, option $number ($match → $next)', ({ node, match, next, number }) => {
    const expected = { kind: 'reply', nodeId: next, message: messageOf(next) };

    it.each([
      ['as written', match],
      ['lower case', match.toLowerCase()],
      ['upper case', match.toUpperCase()],
      ['surrounded by whitespace', `  \t${match} \n`],
      ['with inner spaces doubled', match.replace(/ /g, '  ')],
    ])('matches the keyword %s', (_how, input) => {
      expect(nextStep(flow, at(node), input)).toEqual({ ...expected, via: 'keyword' });
    });

    it.each([String(number), ` ${number} `, `0${number}`, `${number}\uFE0F\u20E3`])(
      'matches the number %j',
      (input) => {
        expect(nextStep(flow, at(node), input)).toEqual({ ...expected, via: 'number' });
      },
    );

    it('does not match the keyword inside a longer message', () => {
      expect(nextStep(flow, at(node), `${match} por favor`)).toEqual({
        kind: 'no_match',
        nodeId: node,
        message: messageOf(node),
      });
    });
  });

  describe.each(flow.nodes.map((n) => ({ node: n.id, count: n.options.length })))(
    'at $node ($count options), what is not an option',
    ({ node, count }) => {
      const noMatch: FlowNoMatch = { kind: 'no_match', nodeId: node, message: messageOf(node) };

      it.each(['0', String(count + 1), '99', '-1', '1.0', '1)', '#1', '1 2', '١'])(
        'number-like %j',
        (input) => {
          expect(nextStep(flow, at(node), input)).toEqual(noMatch);
        },
      );

      it.each(['', '   ', '\n\t', 'oi', 'sim', 'welcome'])('text %j', (input) => {
        expect(nextStep(flow, at(node), input)).toEqual(noMatch);
      });
    },
  );

  it('ignores accents both ways: "nao sei" picks "Não sei", "CENTRÓ" picks "centro"', () => {
    expect(nextStep(flow, at('rent'), 'nao sei')).toMatchObject({ kind: 'reply', nodeId: 'welcome' });
    expect(nextStep(flow, at('rent'), 'NÃO SEI')).toMatchObject({ kind: 'reply', nodeId: 'welcome' });
    expect(nextStep(flow, at('buy'), 'CENTRÓ')).toMatchObject({ kind: 'reply', nodeId: 'agent' });
  });

  it('matches full-width digits as numbers', () => {
    expect(nextStep(flow, at('welcome'), '２')).toMatchObject({
      kind: 'reply',
      nodeId: 'rent',
      via: 'number',
    });
  });

  it('a final node answers every message with its own text again', () => {
    for (const input of ['1', 'voltar', 'comprar', '']) {
      expect(nextStep(flow, at('agent'), input)).toEqual({
        kind: 'no_match',
        nodeId: 'agent',
        message: messageOf('agent'),
      });
    }
  });

  it('a keyword that is its own option number is found either way', () => {
    const numbered: Flow = {
      start: 'a',
      nodes: [
        aNode('a', {
          options: [
            { match: '1', next: 'b' },
            { match: 'dois', next: 'a' },
          ],
        }),
        aNode('b'),
      ],
    };
    expect(nextStep(numbered, at('a'), '1')).toMatchObject({ nodeId: 'b', via: 'keyword' });
    expect(nextStep(numbered, at('a'), '2')).toMatchObject({ nodeId: 'a', via: 'number' });
  });

  it('refuses a flow whose start is dangling (it never passed validation)', () => {
    const broken = aRealEstateFlow({ start: 'nowhere' });
    expect(
      isWhatsAppError(
        errorOf(() => nextStep(broken, at(null), 'oi')),
        'flow_invalid',
      ),
    ).toBe(true);
  });

  it('refuses a flow whose chosen next is dangling', () => {
    const broken: Flow = { start: 'a', nodes: [aNode('a', { options: [{ match: 'x', next: 'nowhere' }] })] };
    expect(
      isWhatsAppError(
        errorOf(() => nextStep(broken, at('a'), 'x')),
        'flow_invalid',
      ),
    ).toBe(true);
    // Only the chosen option is looked up: a no-match at that node still answers.
    expect(nextStep(broken, at('a'), 'y')).toMatchObject({ kind: 'no_match', nodeId: 'a' });
  });

  it('always lands on a node of the flow and sends that node’s message (any state, any text)', () => {
    const states = fc.constantFrom<string | null>(null, 'ghost', ...flow.nodes.map((n) => n.id));
    fc.assert(
      fc.property(
        states,
        fc.oneof(fc.string(), fc.constantFrom('1', '2', '3', 'comprar', 'voltar')),
        (state, input) => {
          const step = nextStep(flow, at(state), input);
          expect(step.message).toBe(messageOf(step.nodeId));
          if (step.kind === 'no_match') expect(step.nodeId).toBe(state);
        },
      ),
    );
  });
});

describe('fallbackMessageFor', () => {
  const noMatch: FlowNoMatch = { kind: 'no_match', nodeId: 'buy', message: 'Em qual bairro?' };

  it('is the current node’s message again by default (SPEC §16)', () => {
    expect(fallbackMessageFor(aRealEstateFlow(), noMatch)).toBe('Em qual bairro?');
  });

  it('is the flow’s fallbackMessage when it has one', () => {
    const flowWithFallback = aRealEstateFlow({ fallbackMessage: 'Não entendi, responda com o número.' });
    expect(fallbackMessageFor(flowWithFallback, noMatch)).toBe('Não entendi, responda com o número.');
  });

  it('ignores a blank fallbackMessage', () => {
    expect(fallbackMessageFor(aRealEstateFlow({ fallbackMessage: '  ' }), noMatch)).toBe('Em qual bairro?');
  });
});
