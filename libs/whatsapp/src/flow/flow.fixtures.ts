import { Flow, FlowNode } from './flow.types';

/** A small real-estate flow: a menu, two branches with options, a cycle back, a final node. */
export function aRealEstateFlow(overrides: Partial<Flow> = {}): Flow {
  return {
    start: 'welcome',
    nodes: [
      {
        id: 'welcome',
        message: 'Olá! Você quer 1) Comprar 2) Alugar 3) Falar com corretor?',
        options: [
          { match: 'Comprar', next: 'buy' },
          { match: 'alugar', next: 'rent' },
          { match: 'Falar com corretor', next: 'agent' },
        ],
      },
      {
        id: 'buy',
        message: 'Em qual bairro? 1) Centro 2) Voltar',
        options: [
          { match: 'centro', next: 'agent' },
          { match: 'voltar', next: 'welcome' },
        ],
      },
      {
        id: 'rent',
        message: 'Quantos quartos? 1) Um 2) Dois 3) Não sei',
        options: [
          { match: 'um', next: 'agent' },
          { match: 'DOIS', next: 'agent' },
          { match: 'Não sei', next: 'welcome' },
        ],
      },
      { id: 'agent', message: 'Um corretor vai falar com você em breve.', options: [] },
    ],
    ...overrides,
  };
}

export function aNode(id: string, overrides: Partial<FlowNode> = {}): FlowNode {
  return { id, message: `Mensagem ${id}`, options: [], ...overrides };
}
